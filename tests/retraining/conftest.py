"""Fixtures: the recording KFP API emulator (tests/support/kfp_api.py)."""

from tests.support.kfp_api import kfp_api, kfp_context  # noqa: F401  (fixtures)
