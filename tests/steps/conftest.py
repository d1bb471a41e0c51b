"""Fixtures of the step tests, shared with the stage packages' own tests.

The steps call the stage packages, so their tests need the same worlds: a small Feast
repo (tests/features), the churn training slice and the Katib API emulator
(tests/tuning), and a registry with a champion (tests/serving). They are imported from
those conftest files rather than copied, so each world has one definition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.features.conftest import RepoFactory, make_repo, state  # noqa: F401
from tests.serving.conftest import churn_frame, registry, use_registry  # noqa: F401
from tests.tuning.conftest import churn_train, custom_objects, katib_api  # noqa: F401


@pytest.fixture
def feast_repo(make_repo: RepoFactory) -> Path:  # noqa: F811 (the imported fixture)
    """The small Feast repo; ``repo`` stays the repository's root here."""
    return make_repo()
