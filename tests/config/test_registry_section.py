"""registry.promotion: who moves champion after the gate, and its default."""

from __future__ import annotations

import pytest

from kfops.config import config_from_dict
from kfops.config.sections import PromotionMode
from kfops.errors import ConfigurationError

BASE = {"project": "churn", "data": {"path": "churn.csv", "target": "churned"}}
PLAN = {"strategy": {"canary": {"steps": [{"setWeight": 50}]}}}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, PromotionMode.DIRECT),
        ({"rollout": PLAN}, PromotionMode.ROLLOUT),
        ({"rollout": PLAN, "registry": {"promotion": "direct"}}, PromotionMode.DIRECT),
        ({"registry": {"promotion": "direct"}}, PromotionMode.DIRECT),
    ],
)
def test_promotion_defaults_from_the_rollout_section(extra, expected):
    assert config_from_dict({**BASE, **extra}).promotion is expected


def test_rollout_promotion_without_a_rollout_section_is_one_clear_line():
    with pytest.raises(ConfigurationError, match="registry.promotion is 'rollout' but") as info:
        config_from_dict({**BASE, "registry": {"promotion": "rollout"}})
    assert "\n" not in str(info.value)


def test_an_unknown_promotion_names_the_key():
    with pytest.raises(ConfigurationError, match="registry.promotion"):
        config_from_dict({**BASE, "registry": {"promotion": "sometimes"}})
