"""Fixtures for the cluster tests: the recording KFP API emulator (tests/support/kfp_api.py)."""

from tests.support.kfp_api import (  # noqa: F401  (fixtures)
    API,
    KfpApiEmulator,
    Recorded,
    closed_port_url,
    kfp_api,
    kfp_context,
)
