"""Fixtures for the command-line tests: the KFP API emulator (kfops submit/schedule) and the
served model of tests/serving (kfops serve)."""

from tests.serving.conftest import (  # noqa: F401  (fixtures)
    MODEL_NAME,
    churn_frame,
    feature_rows,
    registry,
)
from tests.support.kfp_api import closed_port_url, kfp_api, kfp_context  # noqa: F401
