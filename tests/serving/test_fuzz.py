"""Fuzz the running server with schemathesis from its own OpenAPI document: no 5xx.

Bounded: a fixed number of generated requests (valid and invalid ones, over every
operation), run by hypothesis directly (schemathesis' pytest plugin trips on pytest 9).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .conftest import MODEL_NAME

pytestmark = pytest.mark.slow

EXAMPLES = 300


def test_no_generated_request_gets_a_server_error(server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    cases = st.one_of(
        schema.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )
    seen: list[int] = []

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call_and_validate(base_url=server.url, checks=[not_a_server_error])
        seen.append(response.status_code)

    fuzz()
    assert len(seen) >= EXAMPLES // 2 and any(200 <= s < 300 for s in seen)
    assert any(400 <= s < 500 for s in seen)


def test_the_server_still_answers_after_fuzzing(server, feature_rows) -> None:
    response = httpx.post(
        f"{server.url}/v1/models/{MODEL_NAME}:predict", json={"instances": feature_rows[:2]}
    )
    assert response.status_code == 200, response.text
