"""Katib algorithm -> optuna sampler, row by row; hyperband has no local equivalent."""

from __future__ import annotations

import importlib.util

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from kfops.errors import ConfigurationError
from kfops.tuning.samplers import (
    OPTIONAL_PACKAGES,
    AskTellGridSampler,
    build_sampler,
    distributions,
)
from tests.tuning.conftest import TUNING, churn_config

SEED = 42


def config(name: str, settings: dict | None = None, parameters: list | None = None):
    spec = {**TUNING, "algorithm": {"name": name, "settings": settings or {}}}
    if parameters is not None:
        spec["parameters"] = parameters
    if name == "grid":
        spec["max_trial_count"] = 4
    return churn_config(spec).tuning


@pytest.fixture
def packages_present(monkeypatch):
    """Pretend the optional sampler packages are installed (they are not constructed-checked)."""
    real = importlib.util.find_spec
    fake = {package: object() for package in OPTIONAL_PACKAGES.values()}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: fake.get(name) or real(name, *a)
    )


@pytest.mark.parametrize(
    ("name", "settings", "cls", "attributes"),
    [
        ("random", {}, optuna.samplers.RandomSampler, {}),
        ("random", {"random_state": 3}, optuna.samplers.RandomSampler, {}),
        (
            "tpe",
            {"n_startup_trials": 4, "n_ei_candidates": 8},
            optuna.samplers.TPESampler,
            {
                "_n_startup_trials": 4,
                "_n_ei_candidates": 8,
                "_multivariate": False,
                "_constant_liar": True,
            },
        ),
        ("multivariate-tpe", {}, optuna.samplers.TPESampler, {"_multivariate": True}),
        ("grid", {}, AskTellGridSampler, {}),
        ("sobol", {}, optuna.samplers.QMCSampler, {"_qmc_type": "sobol"}),
        (
            "cmaes",
            {"sigma": 0.5, "restart_strategy": "none"},
            optuna.samplers.CmaEsSampler,
            {"_sigma0": 0.5},
        ),
        (
            "bayesianoptimization",
            {"n_initial_points": 5},
            optuna.samplers.GPSampler,
            {"_n_startup_trials": 5},
        ),
    ],
)
def test_algorithm_maps_to_its_sampler(packages_present, name, settings, cls, attributes):
    sampler = build_sampler(config(name, settings), SEED)
    assert type(sampler) is cls
    for attribute, value in attributes.items():
        assert getattr(sampler, attribute) == value


def test_hyperband_has_no_local_equivalent():
    with pytest.raises(
        ConfigurationError,
        match=r"tuning\.algorithm\.name: hyperband has no local equivalent.*tuning\.backend: katib",
    ):
        build_sampler(config("hyperband"), SEED)


@pytest.mark.parametrize(
    ("name", "package"), [("cmaes", "cmaes"), ("bayesianoptimization", "torch")]
)
def test_a_missing_sampler_package_is_named(monkeypatch, name, package):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == package else real(n, *a)
    )
    with pytest.raises(
        ConfigurationError, match=rf"{name} runs locally .* needs the '{package}' package"
    ):
        build_sampler(config(name), SEED)


@pytest.mark.parametrize(
    ("name", "setting", "value"),
    [
        ("bayesianoptimization", "base_estimator", "RF"),
        ("bayesianoptimization", "acq_func", "LCB"),
        ("bayesianoptimization", "acq_optimizer", "lbfgs"),
        ("cmaes", "restart_strategy", "ipop"),
    ],
)
def test_settings_without_a_local_meaning_are_refused(packages_present, name, setting, value):
    with pytest.raises(
        ConfigurationError,
        match=rf"tuning\.algorithm\.settings\.{setting}: '{value}' has no local equivalent",
    ):
        build_sampler(config(name, {setting: value}), SEED)


def test_distributions_follow_the_feasible_space():
    tuning = config(
        "tpe",
        parameters=[
            {
                "name": "max_depth",
                "type": "int",
                "feasible_space": {"min": 2, "max": 11, "step": 3},
            },
            {
                "name": "min_impurity_decrease",
                "type": "double",
                "feasible_space": {"min": 0.001, "max": 0.1, "distribution": "log_uniform"},
            },
            {"name": "n_estimators", "type": "discrete", "feasible_space": {"list": [10, 20]}},
            {
                "name": "max_features",
                "type": "categorical",
                "feasible_space": {"list": ["sqrt", None]},
            },
        ],
    )
    space = distributions(tuning)
    assert space["max_depth"] == IntDistribution(2, 11, step=3)
    assert space["min_impurity_decrease"] == FloatDistribution(0.001, 0.1, log=True)
    assert space["n_estimators"] == CategoricalDistribution(["10", "20"])
    assert space["max_features"] == CategoricalDistribution(["sqrt", "null"])


def test_grid_visits_katib_strings():
    space = distributions(
        config(
            "grid",
            parameters=[
                {
                    "name": "max_depth",
                    "type": "int",
                    "feasible_space": {"min": 2, "max": 8, "step": 2},
                }
            ],
        )
    )
    assert space == {"max_depth": CategoricalDistribution(["2", "4", "6", "8"])}


def test_log_uniform_with_a_step_is_refused():
    tuning = config(
        "tpe",
        parameters=[
            {
                "name": "max_depth",
                "type": "int",
                "feasible_space": {"min": 2, "max": 8, "step": 2, "distribution": "log_uniform"},
            }
        ],
    )
    with pytest.raises(
        ConfigurationError,
        match=r"tuning\.parameters\[0\]\.feasible_space\.step: log_uniform with a step",
    ):
        distributions(tuning)
