"""What the rollout engine asks the world to do. Backends carry these out; the engine never
does I/O itself, so every decision is testable without a router, a cluster or a registry."""

from __future__ import annotations

from dataclasses import dataclass

STABLE = "stable"
CANDIDATE = "candidate"
VARIANTS = (STABLE, CANDIDATE)


@dataclass(frozen=True)
class SetTraffic:
    """The whole traffic state at once (idempotent, so a resumed controller can repeat it).

    ``candidate_weight`` percent of requests are answered by the candidate; ``mirror_percent``
    percent of the requests answered by stable are also copied to the candidate, whose
    answers are discarded. With a sticky key set, the split is by a hash of the key (A/B),
    so one subject always sees one variant.
    """

    candidate_weight: int
    mirror_percent: int = 0
    sticky_header: str | None = None
    sticky_field: str | None = None


@dataclass(frozen=True)
class MoveAlias:
    """Point a registered model's alias (``champion``) at a version."""

    model: str
    alias: str
    version: str


Action = SetTraffic | MoveAlias
