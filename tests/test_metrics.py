import pytest

from kfops.errors import ConfigurationError
from kfops.metrics import Direction, direction_of, improvement


@pytest.mark.parametrize(
    ("metric", "candidate", "incumbent", "expected"),
    [
        ("roc_auc", 0.85, 0.80, 0.05),
        ("roc_auc", 0.80, 0.85, -0.05),
        ("rmse", 4.0, 5.0, 1.0),
        ("rmse", 5.0, 4.0, -1.0),
        ("r2", 0.5, 0.5, 0.0),
    ],
)
def test_improvement_is_positive_when_better(metric, candidate, incumbent, expected):
    assert improvement(metric, candidate, incumbent) == pytest.approx(expected)


def test_directions_and_unknown_metric():
    assert direction_of("log_loss") is Direction.MINIMIZE
    with pytest.raises(ConfigurationError, match="unknown metric 'auc'"):
        direction_of("auc")
