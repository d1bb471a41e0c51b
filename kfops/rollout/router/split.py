"""How the router picks a variant: pure decisions, no I/O, so they are table-tested alone.

- Weighted split, by error diffusion rather than chance: an accumulator starts at 50 and
  gains ``candidate_weight`` per request; when it reaches 100 the request goes to the
  candidate and 100 is taken off. After n requests the candidate has had exactly
  ``floor((50 + n * weight) / 100)`` of them, n * weight / 100 rounded half up: 20 of 100
  at weight 20, in the pattern s s c s s s s c ... A new state that changes the weight
  restarts the accumulator at 50; one that repeats it (a resumed controller) does not.
- Sticky A/B, when ``sticky_header`` or ``sticky_field`` is set: the key's bucket is
  ``blake2b(key, digest_size=8) mod 100`` and the candidate takes the buckets below the
  weight, so one subject always sees one variant, and raising the weight only moves
  subjects from stable to candidate. The header wins when both are set and present. The
  field is looked up in the JSON body: at the top level, else in the first V1 instance
  (``{"instances": [{FIELD: ...}]}``), else as the first datum of the V2 input named FIELD
  (``{"inputs": [{"name": FIELD, "data": [...]}]}``). Strings are keys as they are, other
  values their JSON text (so header ``42`` and field ``42`` agree). A request without the
  key falls back to the weighted split (assignment ``fallback``).
- Mirroring: the same error diffusion over the requests routed to stable, at
  ``mirror_percent``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from kfops.errors import ConfigurationError
from kfops.rollout.engine.actions import CANDIDATE, STABLE, SetTraffic
from kfops.rollout.router.metrics import FALLBACK, INFER, OTHER, PREDICT, STICKY, WEIGHTED

_FIELDS = {
    "candidateWeight": "candidate_weight",
    "mirrorPercent": "mirror_percent",
    "stickyHeader": "sticky_header",
    "stickyField": "sticky_field",
}


def check_traffic(state: SetTraffic) -> SetTraffic:
    """Returns ``state`` if every field is in range, else raises ConfigurationError."""
    for alias, name in _FIELDS.items():
        value = getattr(state, name)
        if name.endswith(("weight", "percent")):
            if type(value) is not int or not 0 <= value <= 100:
                raise ConfigurationError(
                    f"router traffic: {alias} must be an integer from 0 to 100, got {value!r}"
                )
        elif value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(
                f"router traffic: {alias} must be a non-empty string or null, got {value!r}"
            )
    return state


def parse_traffic(body: Any) -> SetTraffic:
    """The state from the admin API's JSON; ``candidateWeight`` is required, the rest default."""
    if not isinstance(body, dict):
        raise ConfigurationError(
            f"router traffic: the body must be a JSON object like "
            f'{{"candidateWeight": 20}}, got {type(body).__name__}'
        )
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"router traffic: unknown field {unknown[0]!r}; expected {', '.join(_FIELDS)}"
        )
    if "candidateWeight" not in body:
        raise ConfigurationError("router traffic: candidateWeight is required (0 to 100)")
    return check_traffic(SetTraffic(**{_FIELDS[key]: value for key, value in body.items()}))


def traffic_json(state: SetTraffic) -> dict[str, Any]:
    return {alias: getattr(state, name) for alias, name in _FIELDS.items()}


def request_kind(path: str) -> str:
    if path.endswith(":predict"):
        return PREDICT
    return INFER if path.endswith("/infer") else OTHER


def sticky_bucket(key: str) -> int:
    """A stable bucket 0..99 for a subject's key (the same in every process and run)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def _key_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return (
        value
        if isinstance(value, str)
        else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    )


def field_key(body: bytes, field: str) -> str | None:
    """The sticky key in a JSON body: top level, first V1 instance, or the V2 input's first datum."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    if field in document:
        return _key_text(document[field])
    instances = document.get("instances")
    if isinstance(instances, list) and instances and isinstance(instances[0], dict):
        return _key_text(instances[0].get(field))
    inputs = document.get("inputs")
    if isinstance(inputs, list):
        for tensor in inputs:
            if isinstance(tensor, dict) and tensor.get("name") == field:
                data = tensor.get("data")
                while isinstance(data, list) and data:
                    data = data[0]
                return _key_text(data) if not isinstance(data, list) else None
    return None


class Splitter:
    """The variant decisions for one traffic state: two error-diffusion counters and a hash.

    Worked example at weight 20: the accumulator goes 50, 70, 90, 110 -> candidate (10),
    30, 50, 70, 90, 110 -> candidate, ...: one request in five, the first at the third.
    """

    def __init__(self, state: SetTraffic) -> None:
        self.state = check_traffic(state)
        self._split = 50
        self._mirror = 50

    def update(self, state: SetTraffic) -> None:
        """A new state; a counter restarts only when its percentage changes."""
        check_traffic(state)
        if state.candidate_weight != self.state.candidate_weight:
            self._split = 50
        if state.mirror_percent != self.state.mirror_percent:
            self._mirror = 50
        self.state = state

    def weighted(self) -> str:
        self._split += self.state.candidate_weight
        if self._split >= 100:
            self._split -= 100
            return CANDIDATE
        return STABLE

    def choose(self, key: str | None) -> tuple[str, str]:
        """(variant, assignment) for a request whose sticky key is ``key`` (None: none found)."""
        if key is not None:
            return (
                CANDIDATE if sticky_bucket(key) < self.state.candidate_weight else STABLE
            ), STICKY
        sticky = self.state.sticky_header is not None or self.state.sticky_field is not None
        return self.weighted(), (FALLBACK if sticky else WEIGHTED)

    def mirror(self) -> bool:
        """Whether this stable request is also copied to the candidate."""
        self._mirror += self.state.mirror_percent
        if self._mirror >= 100:
            self._mirror -= 100
            return True
        return False
