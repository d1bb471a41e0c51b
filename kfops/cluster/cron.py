"""Validation of KFP recurring-run cron expressions, before anything is sent.

KFP schedules recurring runs with robfig/cron v1 (``cron.Parse``), whose expressions have
six fields, seconds first::

    seconds  minutes  hours  day-of-month  month  day-of-week
    0        0        3      *             *      *            -> every day at 03:00:00

That parser also accepts five fields, reading them as *seconds minutes hours day-of-month
month*: the common crontab line ``0 3 * * *`` would then run at second 0 of minute 3 of
every hour. A five-field expression is therefore always rejected here, with the six-field
form the user most likely meant.

Each field is a comma-separated list of items; an item is ``*`` or ``?`` (any value),
``N``, ``N-M``, optionally followed by ``/STEP`` (``N/STEP`` means ``N-max/STEP``). Month
and day-of-week also take three-letter names (JAN-DEC, SUN-SAT, any case). The fixed
descriptors ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``, ``@daily``,
``@midnight`` and ``@hourly`` are accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kfops.errors import ConfigurationError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)

_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class CronField:
    """One position of the expression: its name, bounds and accepted names."""

    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """``0-6 (or SUN-SAT)``: the accepted values, for messages."""
        text = f"{self.low}-{self.high}"
        if self.names:
            first, last = min(self.names, key=self.names.get), max(self.names, key=self.names.get)
            text += f" (or {first}-{last})"
        return text


FIELDS: tuple[CronField, ...] = (
    CronField("seconds", 0, 59),
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31),
    CronField("month", 1, 12, {name: i for i, name in enumerate(_MONTHS, start=1)}),
    CronField("day-of-week", 0, 6, {name: i for i, name in enumerate(_DAYS)}),
)


def parse_cron(expr: str) -> str:
    """Validate a KFP cron expression and return it normalised.

    Normalised means: fields separated by one space, names upper-cased, descriptors
    lower-cased. ``" 0  0 3 * * mon-fri "`` becomes ``"0 0 3 * * MON-FRI"``.

    Raises:
        ConfigurationError: naming the field, the value and the accepted form.
    """
    text = " ".join(expr.split())
    if not text:
        raise ConfigurationError(
            "cron '': empty; write 6 fields, seconds first, e.g. '0 0 3 * * *'"
        )
    if text.startswith("@"):
        if text.lower() in DESCRIPTORS:
            return text.lower()
        raise ConfigurationError(
            f"cron '{expr}': unknown descriptor; use one of {', '.join(sorted(DESCRIPTORS))} "
            "or 6 fields, seconds first, e.g. '0 0 3 * * *'"
        )
    parts = text.split(" ")
    if len(parts) == 5:
        raise ConfigurationError(
            f"cron '{text}' has 5 fields; KFP cron has 6 (seconds first), e.g. '0 {text}'"
        )
    if len(parts) != len(FIELDS):
        raise ConfigurationError(
            f"cron '{text}' has {len(parts)} fields; KFP cron has 6: seconds minutes hours "
            "day-of-month month day-of-week, e.g. '0 0 3 * * *'"
        )
    return " ".join(
        _parse_field(part, spec, text) for part, spec in zip(parts, FIELDS, strict=True)
    )


def _parse_field(text: str, spec: CronField, expr: str) -> str:
    for item in text.split(","):
        _check_item(item, spec, expr)
    return text.upper() if spec.names else text


def _check_item(item: str, spec: CronField, expr: str) -> None:
    """Check one list item: ``*``, ``?``, ``N``, ``N-M``, each with an optional ``/STEP``."""
    where = f"cron '{expr}': {spec.name}"
    range_part, slash, step = item.partition("/")
    if not range_part or "/" in step or range_part.count("-") > 1:
        raise ConfigurationError(
            f"{where} item '{item}' is not valid; use *, ?, N, N-M, */S, N/S or N-M/S "
            "separated by commas"
        )
    if slash and (not _NUMBER.fullmatch(step) or int(step) == 0):
        raise ConfigurationError(f"{where} step '{step}' in '{item}' must be a whole number >= 1")
    if range_part in ("*", "?"):
        return
    start_text, dash, end_text = range_part.partition("-")
    start = _value(start_text, spec, where)
    # "N/STEP" means "N-max/STEP", as in robfig/cron.
    end = _value(end_text, spec, where) if dash else (spec.high if slash else start)
    if start > end:
        raise ConfigurationError(
            f"{where} range '{range_part}' starts after it ends; write the lower value first"
        )


def _value(text: str, spec: CronField, where: str) -> int:
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    if not _NUMBER.fullmatch(text):
        kind = "a number or a name" if spec.names else "a number"
        raise ConfigurationError(
            f"{where} value '{text}' is not {kind}; {spec.name} takes {spec.describe()}"
        )
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise ConfigurationError(
            f"{where} value {value} is out of range; {spec.name} takes {spec.describe()}"
        )
    return value
