"""Argo success and failure conditions, evaluated safely on one measurement.

A condition is a small expression over ``result``: a float for a scalar query, a list of
floats for a vector query (``result[0]``). It is parsed with :mod:`ast` and walked by a
tiny interpreter that knows only: numbers, ``true``/``false``, ``result``, ``result[i]``,
comparisons (``== != < <= > >=``, chained), ``and or not`` (and Argo's ``&& || !``),
arithmetic (``+ - * / % **``, on floats), the functions ``len isNaN isInf abs min max sum``
and ``all``/``any`` over a generator (``all(x < 0.1 for x in result)``). Nothing else is
ever executed, so a condition cannot reach Python.

How one measurement is judged (Argo's ``EvaluateResult``):

===================  ===================  =================================================
successCondition     failureCondition     phase
===================  ===================  =================================================
unset                unset                Successful
set                  unset                Successful if it holds, else Failed
unset                set                  Failed if it holds, else Successful
set                  set                  Failed if failure holds (whatever success says);
                                          else Successful if success holds; else
                                          Inconclusive
any evaluation problem (index out of range, NaN compared, a list where a number belongs)
                                          Error, with the problem as the message
===================  ===================  =================================================

A NaN in a comparison or arithmetic is an evaluation problem rather than a silent
``false``: guard with ``isNaN(result) || result < 0.05`` when NaN is expected.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from kfops.errors import ConfigurationError
from kfops.rollout.engine.status import AnalysisPhase, Value

_ARGO_OPERATORS = (
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
)
_NAMES = {"true": True, "false": False, "True": True, "False": False}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITHMETIC: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS = ("len", "isNaN", "isInf", "abs", "min", "max", "sum", "all", "any")
_BOOLEAN_FUNCTIONS = ("isNaN", "isInf", "all", "any")


class EvaluationError(Exception):
    """The condition could not be decided for this result (the measurement is in Error)."""


def _parse(expression: str) -> ast.Expression:
    text = expression
    for pattern, replacement in _ARGO_OPERATORS:
        text = pattern.sub(replacement, text)
    return ast.parse(text.strip(), mode="eval")


def _check(node: ast.AST, loop_vars: frozenset[str] = frozenset()) -> None:
    """Reject every construct the interpreter does not know (raises ValueError)."""
    match node:
        case ast.Expression(body=body):
            _check(body, loop_vars)
        case ast.Constant(value=value) if isinstance(value, bool | int | float):
            pass
        case ast.Name(id=name) if name == "result" or name in _NAMES or name in loop_vars:
            pass
        case ast.Subscript(value=ast.Name(id="result"), slice=index):
            _check(index, loop_vars)
        case ast.Compare(left=left, ops=ops, comparators=rights) if all(
            type(op) in _COMPARE for op in ops
        ):
            for part in (left, *rights):
                _check(part, loop_vars)
        case ast.BoolOp(values=values):
            for part in values:
                _check(part, loop_vars)
        case ast.UnaryOp(op=ast.Not() | ast.USub() | ast.UAdd(), operand=operand):
            _check(operand, loop_vars)
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _ARITHMETIC:
            _check(left, loop_vars)
            _check(right, loop_vars)
        case ast.Call(func=ast.Name(id=name), args=[ast.GeneratorExp() as gen], keywords=[]) if (
            name in ("all", "any", "min", "max", "sum")
        ):
            _check_generator(gen, loop_vars)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            if not args:
                raise ValueError(f"{name}() needs an argument")
            for part in args:
                _check(part, loop_vars)
        case _:
            raise ValueError(f"{ast.unparse(node)!r} is not allowed in a condition")


def _check_generator(gen: ast.GeneratorExp, loop_vars: frozenset[str]) -> None:
    if len(gen.generators) != 1:
        raise ValueError("use one 'for x in result' per generator")
    loop = gen.generators[0]
    if not isinstance(loop.target, ast.Name) or loop.is_async:
        raise ValueError("the generator must read 'for x in result'")
    _check(loop.iter, loop_vars)
    inner = loop_vars | {loop.target.id}
    for condition in loop.ifs:
        _check(condition, inner)
    _check(gen.elt, inner)


def _is_boolean(node: ast.AST) -> bool:
    match node:
        case ast.Compare() | ast.BoolOp() | ast.UnaryOp(op=ast.Not()):
            return True
        case ast.Constant(value=bool()) | ast.Name(id="true" | "false" | "True" | "False"):
            return True
        case ast.Call(func=ast.Name(id=name)):
            return name in _BOOLEAN_FUNCTIONS
    return False


def compile_condition(expression: str) -> ast.Expression:
    """Parse and check a condition; raises ValueError with the reason."""
    try:
        tree = _parse(expression)
    except SyntaxError as exc:
        raise ValueError(f"{expression!r} is not a valid expression ({exc.msg})") from None
    _check(tree)
    if not _is_boolean(tree.body):
        raise ValueError(f"{expression!r} does not give true or false; compare it to a number")
    return tree


def check_condition(expression: str, where: str) -> None:
    """Raise ConfigurationError naming ``where`` if the condition cannot be evaluated."""
    try:
        compile_condition(expression)
    except ValueError as exc:
        raise ConfigurationError(
            f"{where}: {exc}; write e.g. 'result[0] < 0.05' or 'result >= 0.95'"
        ) from None


class _Interpreter:
    def __init__(self, result: Value) -> None:
        self.scope: dict[str, Any] = {"result": result, **_NAMES}

    def number(self, node: ast.AST) -> float:
        value = self.eval(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EvaluationError(f"{ast.unparse(node)} is {_show(value)}, not a number")
        if math.isnan(value):
            raise EvaluationError(f"{ast.unparse(node)} is NaN; guard with isNaN()")
        return float(value)

    def sequence(self, node: ast.AST) -> list[float]:
        value = self.eval(node)
        if not isinstance(value, list):
            raise EvaluationError(f"{ast.unparse(node)} is {_show(value)}, not a vector")
        return value

    def eval(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per construct
        match node:
            case ast.Expression(body=body):
                return self.eval(body)
            case ast.Constant(value=bool() as value):
                return value
            case ast.Constant(value=value):
                return float(value)  # floats only: no big integers from 10**10**10
            case ast.Name(id=name):
                return self.scope[name]
            case ast.Subscript(value=target, slice=index):
                values = self.sequence(target)
                position = self.number(index)
                if position != int(position):
                    raise EvaluationError(f"index {_show(position)} is not a whole number")
                if not -len(values) <= int(position) < len(values):
                    raise EvaluationError(
                        f"{ast.unparse(node)}: index {int(position)} is out of range "
                        f"(result has {len(values)} values)"
                    )
                return values[int(position)]
            case ast.Compare(left=left, ops=ops, comparators=rights):
                current = self.number(left)
                for op, right in zip(ops, rights, strict=True):
                    following = self.number(right)
                    if not _COMPARE[type(op)](current, following):
                        return False
                    current = following
                return True
            case ast.BoolOp(op=ast.And(), values=values):
                return all(self.truth(part) for part in values)
            case ast.BoolOp(op=ast.Or(), values=values):
                return any(self.truth(part) for part in values)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self.truth(operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.number(operand)
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.number(operand)
            case ast.BinOp(op=op, left=left, right=right):
                try:
                    value = _ARITHMETIC[type(op)](self.number(left), self.number(right))
                except (ZeroDivisionError, OverflowError) as exc:
                    raise EvaluationError(f"{ast.unparse(node)}: {exc}") from None
                if isinstance(value, complex):
                    raise EvaluationError(f"{ast.unparse(node)} is not a real number")
                return value
            case ast.Call(func=ast.Name(id=name), args=args):
                return self.call(name, args)
        raise EvaluationError(f"{ast.unparse(node)} is not allowed")  # pragma: no cover

    def truth(self, node: ast.AST) -> bool:
        value = self.eval(node)
        if not isinstance(value, bool):
            raise EvaluationError(f"{ast.unparse(node)} is {_show(value)}, not true or false")
        return value

    def generated(self, gen: ast.GeneratorExp) -> list[Any]:
        loop = gen.generators[0]
        name = loop.target.id  # type: ignore[attr-defined]
        items: list[Any] = []
        for item in self.sequence(loop.iter):
            self.scope[name] = item
            if all(self.truth(condition) for condition in loop.ifs):
                items.append(self.eval(gen.elt))
        self.scope.pop(name, None)
        return items

    def call(self, name: str, args: list[ast.expr]) -> Any:
        if name in ("isNaN", "isInf"):
            value = self.eval(args[0])
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EvaluationError(f"{name}() needs a number, got {_show(value)}")
            return math.isnan(value) if name == "isNaN" else math.isinf(value)
        if len(args) == 1 and isinstance(args[0], ast.GeneratorExp):
            values = self.generated(args[0])
        elif name in ("len", "all", "any") or (name in ("min", "max", "sum") and len(args) == 1):
            values = self.sequence(args[0])
        else:
            values = [self.number(arg) for arg in args]
        if name == "len":
            return float(len(values))
        if name in ("all", "any"):
            flags = [_as_bool(value) for value in values]
            return all(flags) if name == "all" else any(flags)
        if name == "abs":
            return abs(values[0])
        numbers = [_as_number(value) for value in values]
        if name == "sum":
            return float(sum(numbers))
        if not numbers:
            raise EvaluationError(f"{name}() of an empty result")
        return min(numbers) if name == "min" else max(numbers)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise EvaluationError(f"{_show(value)} is not true or false")
    return value


def _as_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise EvaluationError(f"{_show(value)} is not a number")
    return float(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


def evaluate_condition(expression: str, result: Value) -> bool:
    """True or False for this result; raises EvaluationError (or ValueError for bad syntax)."""
    tree = compile_condition(expression)
    return _Interpreter(_normalise(result)).truth(tree.body)


def _normalise(result: Value) -> Value:
    if isinstance(result, list | tuple):
        return [float(value) for value in result]
    return float(result)


class _Substitute(ast.NodeTransformer):
    """Replace ``result`` and ``result[i]`` by their values, for a readable explanation."""

    def __init__(self, result: Value) -> None:
        self.result = result

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "result":
            try:
                return _literal(_Interpreter(self.result).eval(node))
            except EvaluationError:
                return node
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "result" and not isinstance(self.result, list):
            return _literal(self.result)
        return node


def _literal(value: Any) -> ast.expr:
    if isinstance(value, float) and not math.isfinite(value):
        return ast.Name(id="NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf"))
    return ast.Constant(value)


def explain(expression: str, result: Value) -> str:
    """The condition with the measured values in place: ``0.12 > 0.05``."""
    try:
        tree = _Substitute(_normalise(result)).visit(compile_condition(expression))
    except ValueError:
        return expression
    text = ast.unparse(tree)
    return re.sub(r"(\d+\.\d{5,})", lambda m: f"{float(m.group(1)):.4g}", text)


def evaluate_measurement(
    result: Value,
    success_condition: str | None,
    failure_condition: str | None,
    metric: str = "metric",
) -> tuple[AnalysisPhase, str]:
    """The phase of one measurement, with a message explaining it (see the module table).

    Raises ConfigurationError naming ``metric`` when a condition is not a valid expression.
    """
    for kind, condition in (
        ("successCondition", success_condition),
        ("failureCondition", failure_condition),
    ):
        if condition:
            check_condition(condition, f"metric {metric!r} {kind}")
    if not success_condition and not failure_condition:
        return AnalysisPhase.SUCCESSFUL, f"result {_show(_normalise(result))}"
    outcomes: dict[str, bool] = {}
    for kind, condition in (("success", success_condition), ("failure", failure_condition)):
        if not condition:
            continue
        try:
            outcomes[kind] = evaluate_condition(condition, result)
        except EvaluationError as exc:
            return AnalysisPhase.ERROR, f"{kind}Condition {condition!r}: {exc}"
    if outcomes.get("failure"):
        return AnalysisPhase.FAILED, explain(failure_condition or "", result)
    if "success" in outcomes:
        if outcomes["success"]:
            return AnalysisPhase.SUCCESSFUL, explain(success_condition or "", result)
        if "failure" not in outcomes:
            return AnalysisPhase.FAILED, f"not ({explain(success_condition or '', result)})"
        return AnalysisPhase.INCONCLUSIVE, (
            f"neither {explain(success_condition or '', result)} "
            f"nor {explain(failure_condition or '', result)}"
        )
    return AnalysisPhase.SUCCESSFUL, f"not ({explain(failure_condition or '', result)})"
