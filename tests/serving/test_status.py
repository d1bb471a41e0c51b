"""InferenceService readiness from its status (kfops.serving.status): table-driven."""

from __future__ import annotations

import pytest

from kfops.serving.status import describe, readiness


def isvc(generation=2, observed=2, conditions=(), model_status=None, url=None) -> dict:
    status = {"conditions": list(conditions)}
    if observed is not None:
        status["observedGeneration"] = observed
    if model_status is not None:
        status["modelStatus"] = model_status
    if url:
        status["url"] = url
    return {"metadata": {"generation": generation}, "status": status}


READY = {"type": "Ready", "status": "True"}
NOT_READY = {
    "type": "PredictorReady",
    "status": "False",
    "reason": "RevisionMissing",
    "message": "no revision",
}


@pytest.mark.parametrize(
    ("obj", "ready", "failed", "summary"),
    [
        (isvc(conditions=[READY], url="http://churn"), True, False, "Ready"),
        (isvc(observed=1, conditions=[READY]), False, False, "observe generation 2"),  # stale Ready
        (isvc(observed=None, conditions=[READY]), True, False, "Ready"),  # not reported: trust it
        (
            isvc(conditions=[NOT_READY]),
            False,
            False,
            "PredictorReady=False (RevisionMissing: no revision)",
        ),
        (isvc(conditions=[]), False, False, "no conditions reported yet"),
        ({"metadata": {}}, False, False, "no conditions reported yet"),
        (
            isvc(conditions=[{**NOT_READY, "reason": "RevisionFailed"}]),
            False,
            True,
            "RevisionFailed",
        ),
        (
            isvc(
                model_status={
                    "states": {"targetModelState": "FailedToLoad"},
                    "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "bad pickle"},
                }
            ),
            False,
            True,
            "the model failed to load (ModelLoadFailed: bad pickle)",
        ),
    ],
)
def test_readiness(obj, ready: bool, failed: bool, summary: str) -> None:
    state = readiness(obj)
    assert (state.ready, state.failed) == (ready, failed)
    assert summary in state.summary


def test_the_url_comes_with_ready() -> None:
    assert (
        readiness(isvc(conditions=[READY], url="http://churn.example")).url
        == "http://churn.example"
    )


def test_describe_lists_only_conditions_that_are_not_true() -> None:
    assert (
        describe({"conditions": [READY, NOT_READY]})
        == "PredictorReady=False (RevisionMissing: no revision)"
    )
