"""`kfops rollout start` and the training gate: only a version that passed it is a candidate,
on a real MLflow store."""

from __future__ import annotations

import pytest

from kfops.errors import RolloutError
from kfops.registry.champion import DECISION_TAG
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.drivers.local_rollout import check_candidate, where_to_send

MODEL = "gated"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> MlflowAliases:
    """Versions 1 (promote), 2 (keep) and 3 (no decision: registered by hand)."""
    import mlflow
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("gate")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    experiment = client.create_experiment("gate", artifact_location=(root / "a").as_uri())
    for decision in ("promote", "keep", None):
        run = client.create_run(experiment)
        version = client.create_model_version(MODEL, f"{run.info.artifact_uri}/m", run.info.run_id)
        if decision:
            client.set_model_version_tag(MODEL, version.version, DECISION_TAG, decision)
    mlflow.set_tracking_uri(None)
    return MlflowAliases(uri)


def test_a_version_that_passed_the_gate_is_a_candidate(registry):
    assert check_candidate(registry, MODEL, "3", "1") == "promote"


@pytest.mark.parametrize(("version", "shown"), [
    ("2", "keep"), ("3", "none (not registered by `kfops run`)"),
])  # fmt: skip
def test_a_version_that_did_not_pass_is_refused_with_one_line(registry, version, shown):
    with pytest.raises(RolloutError) as refused:
        check_candidate(registry, MODEL, "1", version)
    assert str(refused.value) == (
        f"{MODEL} v{version} is no candidate: its gate decision is {shown}, not promote; roll "
        "out a version that passed the gate, or pass --force to try it anyway"
    )


def test_force_rolls_it_out_and_says_so(registry):
    events: list[str] = []
    assert check_candidate(registry, MODEL, "1", "2", force=True, on_event=events.append) == "keep"
    assert events == ["--force: rolling out v2 although its gate decision is keep"]


def test_the_same_version_on_both_sides_is_refused(registry):
    with pytest.raises(RolloutError, match="stable and candidate are both v1, nothing to compare"):
        check_candidate(registry, MODEL, "1", "1", force=True)


def test_where_to_send_names_the_url_and_a_runnable_curl():
    lines = where_to_send("http://127.0.0.1:9/v1/models/m:predict", {"tenure": 3})
    assert lines == [
        "send requests to the router: POST http://127.0.0.1:9/v1/models/m:predict",
        "  e.g. curl -s -X POST http://127.0.0.1:9/v1/models/m:predict -H "
        "'Content-Type: application/json' -d '{\"instances\": [{\"tenure\": 3}]}'",
    ]
