"""Prometheus as the rollout's metric provider: one instant query in, a number or numbers out.

Results follow Argo Rollouts' Prometheus provider, so ``successCondition`` reads the same:

* a scalar (``scalar(...)``, a literal) is a ``float``: the condition says ``result``;
* an instant vector is a ``list[float]``, one value per series in Prometheus' order: the
  condition says ``result[0]`` (an empty vector is ``[]``: no series matched yet);
* a range vector (``x[5m]`` without a function around it) or a string is refused.

``NaN``, ``+Inf`` and ``-Inf`` stay floats: ``0/0`` (a ratio over no requests) is ``nan``,
and it is the analysis' job, not the provider's, to call that inconclusive or failed.

Every failure (Prometheus down, an HTTP error, bad PromQL, a timeout) is a
:class:`MeasurementError` with a one-line message; :func:`execute` turns it into the error
string of a measurement, so the engine never sees an exception (Argo's phase Error).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import httpx

from kfops.errors import RolloutError

QUERY_PATH = "/api/v1/query"
TARGETS_PATH = "/api/v1/targets"
ADDRESS_FIELD = "spec.prometheus.address"

Value = float | list[float]
"""A query's result: a scalar, or one value per series of an instant vector."""


class MeasurementError(RolloutError):
    """A metric query gave no usable value; the analysis records it as an errored run."""


def _line(text: str, limit: int = 200) -> str:
    """``text`` on one line, shortened: PromQL and Prometheus errors may span lines."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _sample(raw: Any, promql: str) -> float:
    """A sample's value: Prometheus sends ``[time, "1.5"]``; ``"NaN"`` and ``"+Inf"`` parse."""
    try:
        return float(raw[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise MeasurementError(
            f"query {_line(promql)!r}: a sample {_line(repr(raw), 60)} is not [time, value]"
        ) from exc


def parse_result(data: Any, promql: str) -> Value:
    """The ``data`` of a successful query answer as a float (scalar) or floats (vector).

    >>> parse_result({"resultType": "scalar", "result": [1700000000.0, "0.25"]}, "x")
    0.25
    >>> parse_result({"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]}, "x")
    [nan]
    """
    if not isinstance(data, dict):
        raise MeasurementError(f"query {_line(promql)!r}: the answer has no data object")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample(result, promql)
    if kind == "vector" and isinstance(result, list):
        return [_sample(series.get("value"), promql) for series in result]
    if kind == "matrix":
        raise MeasurementError(
            f"query {_line(promql)!r} returned a range vector (matrix); wrap the range in a "
            "function, e.g. rate(x[5m]) instead of x[5m]"
        )
    raise MeasurementError(
        f"query {_line(promql)!r} returned a {kind}; write a query that returns a scalar or an "
        "instant vector"
    )


def _transport_error(address: str, promql: str, timeout: float, exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"Prometheus at {address} did not answer query {_line(promql)!r} within "
            f"{timeout:g} s; simplify the query or raise timeoutSeconds"
        )
    if isinstance(exc, httpx.ConnectError):
        reason = "refused the connection" if "refused" in str(exc).lower() else "is unreachable"
        return (
            f"Prometheus at {address} {reason}; start Prometheus there or fix {ADDRESS_FIELD} "
            f"({_line(str(exc), 80)})"
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"Prometheus address {address!r} is not an http(s) URL; fix {ADDRESS_FIELD}"
    return f"Prometheus at {address}: {type(exc).__name__}: {_line(str(exc), 120)}"


def _answer(response: httpx.Response, address: str, promql: str) -> Any:
    """The ``data`` of Prometheus' JSON answer, or the error it names.

    Prometheus answers ``{"status": "error", "errorType": "bad_data", "error": "..."}`` with
    HTTP 400 (bad PromQL), 422 (cannot execute) or 503 (timeout, overload).
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        raise MeasurementError(
            f"Prometheus at {address} rejected query {_line(promql)!r}: "
            f"{body.get('errorType', 'error')}: {_line(body.get('error', ''))}"
        )
    if response.status_code != 200:
        raise MeasurementError(
            f"Prometheus at {address} answered HTTP {response.status_code} to "
            f"{response.request.url.path}; check that {ADDRESS_FIELD} is Prometheus' base URL"
        )
    if not isinstance(body, dict) or body.get("status") != "success":
        raise MeasurementError(
            f"Prometheus at {address} answered something other than Prometheus JSON; check "
            f"that {ADDRESS_FIELD} is Prometheus' base URL"
        )
    return body.get("data")


def query(
    address: str, promql: str, timeout: float = 10.0, *, client: httpx.Client | None = None
) -> Value:
    """Evaluate ``promql`` now (``/api/v1/query``); see the module docstring for the result.

    The query travels as a form body (a long PromQL does not hit URL limits) with
    Prometheus' own ``timeout`` parameter, so Prometheus gives up when the client does.
    Raises :class:`MeasurementError` with a one-line message on any failure.
    """
    base = address.rstrip("/")
    # Plain seconds: Prometheus reads "0.5" as a float but refuses "0.5s" (integer units only).
    form = {"query": promql, "timeout": f"{timeout:g}"}
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(base + QUERY_PATH, data=form)
        else:
            response = client.post(base + QUERY_PATH, data=form, timeout=timeout)
    except httpx.HTTPError as exc:
        raise MeasurementError(_transport_error(address, promql, timeout, exc)) from exc
    return parse_result(_answer(response, address, promql), promql)


class Result(NamedTuple):
    """One measurement's outcome: ``value`` when the query worked, else ``error``."""

    run: Any
    metric: Any
    value: Value | None
    error: str | None


def _measure(request: Any, client: httpx.Client) -> Result:
    try:
        value = query(request.address, request.query, request.timeout, client=client)
    except MeasurementError as exc:
        return Result(request.run, request.metric, None, exc.message)
    except Exception as exc:  # a provider failure is a measurement in phase Error, never a crash
        return Result(request.run, request.metric, None, _line(f"{type(exc).__name__}: {exc}"))
    return Result(request.run, request.metric, value, None)


def execute(requests: Iterable[Any], max_parallel: int = 8) -> list[Result]:
    """Run measurement requests (``.run .metric .query .address .timeout``) in parallel.

    Results come back in the requests' order. A slow Prometheus costs one timeout per
    round, not one per query: up to ``max_parallel`` queries are in flight at once.
    """
    pending = list(requests)
    if not pending:
        return []
    with httpx.Client() as client:
        if len(pending) == 1:
            return [_measure(pending[0], client)]
        with ThreadPoolExecutor(min(max_parallel, len(pending))) as pool:
            return list(pool.map(lambda request: _measure(request, client), pending))


def _targets(address: str, job: str, client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get(address.rstrip("/") + TARGETS_PATH, params={"state": "active"})
    data = _answer(response, address, f"targets of job {job}")
    active = data.get("activeTargets", []) if isinstance(data, dict) else []
    return [t for t in active if t.get("labels", {}).get("job") == job]


def wait_until_scraped(address: str, job: str, timeout: float = 30.0) -> list[str]:
    """Wait until every target of ``job`` is up (scraped at least once); their scrape URLs.

    Polls ``/api/v1/targets`` every 0.1 s; Prometheus not answering yet counts as not yet
    scraped (it may be starting). Raises :class:`MeasurementError` naming the targets'
    health and last error when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=min(5.0, max(timeout, 0.1))) as client:
        while True:
            try:
                targets = _targets(address, job, client)
            except (httpx.HTTPError, MeasurementError) as exc:
                last = _line(str(exc), 120) or type(exc).__name__
            else:
                if targets and all(t.get("health") == "up" for t in targets):
                    return [t.get("scrapeUrl", "") for t in targets]
                last = (
                    "; ".join(
                        f"{t.get('scrapeUrl')} {t.get('health')}"
                        + (f" ({_line(t['lastError'], 80)})" if t.get("lastError") else "")
                        for t in targets
                    )
                    or f"no target in job {job!r}"
                )
            if time.monotonic() >= deadline:
                raise MeasurementError(
                    f"Prometheus at {address}: job {job!r} not scraped within {timeout:g} s "
                    f"({last}); check the scrape config and that the targets serve /metrics"
                )
            time.sleep(0.1)
