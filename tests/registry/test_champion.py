import math

import pytest

from kfops.registry.champion import GateDecision, decide_promotion


@pytest.mark.parametrize(
    ("metric", "challenger", "champion", "margin", "promote"),
    [
        ("roc_auc", 0.80, None, 0.0, True),  # first model becomes champion
        ("roc_auc", 0.80, 0.80, 0.0, True),  # equal counts as good enough at margin 0
        ("roc_auc", 0.79, 0.80, 0.0, False),
        ("roc_auc", 0.81, 0.80, 0.01, True),  # exactly the margin
        ("roc_auc", 0.8099, 0.80, 0.01, False),  # just under it
        ("rmse", 4.0, 5.0, 0.5, True),  # lower is better
        ("rmse", 4.6, 5.0, 0.5, False),
        ("rmse", 5.1, 5.0, 0.0, False),
        ("roc_auc", math.nan, 0.80, 0.0, False),
        ("roc_auc", 0.70, math.nan, 0.0, True),
    ],
)
def test_gate(metric, challenger, champion, margin, promote):
    decision = decide_promotion(metric, challenger, champion, margin, champion_version="3")
    assert decision.outcome is (GateDecision.PROMOTE if promote else GateDecision.KEEP)
    assert decision.promote is promote
    assert decision.metric == metric
    assert decision.reason


def test_reason_names_both_scores():
    decision = decide_promotion("roc_auc", 0.70, 0.80, 0.0, champion_version="2")
    assert "0.7000" in decision.reason and "0.8000" in decision.reason and "v2" in decision.reason


def test_a_version_number_from_mlflow_is_kept_as_text():
    decision = decide_promotion("roc_auc", 0.70, 0.80, 0.0, champion_version=4)
    assert decision.champion_version == "4" and decision.outcome is GateDecision.KEEP
