"""The tuning section: validation errors name the field; pure helpers over the spec."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kfops.config import ParameterType, TaskType, TuningBackend, TuningParameter, load_config
from kfops.errors import ConfigurationError
from kfops.metrics import METRIC_DIRECTIONS, Direction
from kfops.steps.tune import resolve_backend
from kfops.tuning import scoring
from kfops.tuning.spec import (
    METRIC_TASKS,
    check_tuning,
    goal_reached,
    grid_size,
    grid_values,
    objective_direction,
    objective_metric,
    parse_assignments,
    parse_value,
    split_param_args,
)
from tests.tuning.conftest import TUNING, churn_config, churn_raw


def tuned(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(TUNING)
    spec.update(changes)
    return spec


def param(name: str, type_: str, **space: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "feasible_space": space}


INT = param("max_depth", "int", min=2, max=8)


@pytest.mark.parametrize(
    ("tuning", "match"),
    [
        (tuned(parameters=[]), r"'tuning\.parameters'"),
        (
            tuned(parameters=[INT, param("x", "float", min=1, max=2)]),
            r"tuning\.parameters\[1\]\.type",
        ),
        (
            tuned(parameters=[INT, param("x", "int", max=2)]),
            r"tuning\.parameters\[1\]\.feasible_space\.min: required",
        ),
        (
            tuned(parameters=[INT, param("x", "double", min=5, max=1)]),
            r"tuning\.parameters\[1\]\.feasible_space\.min: 5 is not below max 1",
        ),
        (
            tuned(parameters=[INT, param("x", "double", min=1, max=1)]),
            r"feasible_space\.min: 1 is not below max 1",
        ),
        (
            tuned(parameters=[param("x", "int", min=1.5, max=4)]),
            r"tuning\.parameters\[0\]\.feasible_space\.min: '1\.5' is not an integer",
        ),
        (
            tuned(parameters=[param("x", "int", min="a", max=4)]),
            r"feasible_space\.min: 'a' is not an integer",
        ),
        (
            tuned(parameters=[param("x", "double", min=0, max=1, step=0)]),
            r"feasible_space\.step: 0 must be above 0",
        ),
        (
            tuned(parameters=[param("x", "double", min=0, max=1, step=1.5)]),
            r"feasible_space\.step: 1\.5 must be above 0 and at most max - min \(1\)",
        ),
        (
            tuned(parameters=[param("x", "double", min=0, max=1, distribution="log_uniform")]),
            r"feasible_space\.min: log_uniform needs min above 0",
        ),
        (
            tuned(parameters=[param("x", "double", min=0, max=1, distribution="normal")]),
            r"feasible_space\.distribution",
        ),
        (
            tuned(parameters=[param("x", "int", min=1, max=4, list=[1, 2])]),
            r"feasible_space\.list: not used by type int",
        ),
        (
            tuned(parameters=[param("x", "categorical", min=1, list=["a"])]),
            r"tuning\.parameters\[0\]\.feasible_space\.min: not used by type categorical",
        ),
        (
            tuned(parameters=[param("x", "categorical", list=[])]),
            r"feasible_space\.list: type categorical needs a non-empty list",
        ),
        (
            tuned(parameters=[param("x", "categorical", list=["a", "a"])]),
            r"feasible_space\.list: values repeat",
        ),
        (
            tuned(parameters=[param("x", "discrete", list=[1, "two"])]),
            r"feasible_space\.list: 'two' is not a number",
        ),
        (
            tuned(parameters=[INT, INT]),
            r"tuning\.parameters\[1\]\.name: 'max_depth' is tuned twice",
        ),
        (
            tuned(parameters=[param("x", "int", min=1, max=4, bogus=1)]),
            r"unknown key 'tuning\.parameters\[0\]\.feasible_space\.bogus'",
        ),
        (tuned(objective={"metric": "auc"}), r"'tuning\.objective\.metric'.*unknown metric 'auc'"),
        (
            tuned(objective={"metric": "roc_auc", "type": "minimize"}),
            r"tuning\.objective\.type: roc_auc is to maximize",
        ),
        (tuned(objective={"metric": "rmse", "type": "up"}), r"'tuning\.objective\.type'"),
        (tuned(algorithm={"name": "annealing"}), r"'tuning\.algorithm\.name'"),
        (
            tuned(algorithm={"name": "tpe", "settings": {"seed": 1}}),
            r"tuning\.algorithm\.settings\.seed: tpe has no setting 'seed'; use one of: n_startup_trials",
        ),
        (
            tuned(algorithm={"name": "sobol", "settings": {"random_state": 1}}),
            r"tuning\.algorithm\.settings\.random_state: sobol has no setting",
        ),
        (
            tuned(algorithm={"name": "tpe", "settings": {"n_startup_trials": -1}}),
            r"tuning\.algorithm\.settings\.n_startup_trials: '-1' is not a whole number",
        ),
        (
            tuned(algorithm={"name": "cmaes", "settings": {"restart_strategy": "lazy"}}),
            r"settings\.restart_strategy: 'lazy' is not one of ipop, bipop, none",
        ),
        (
            tuned(algorithm={"name": "hyperband", "settings": {"resource_name": "epochs"}}),
            r"settings\.resource_name: 'epochs' names no parameter",
        ),
        (tuned(parallel_trial_count=0), r"'tuning\.parallel_trial_count'"),
        (
            tuned(parallel_trial_count=5),
            r"tuning\.parallel_trial_count: 5 is above max_trial_count 4",
        ),
        (
            tuned(max_failed_trial_count=5),
            r"tuning\.max_failed_trial_count: 5 is above max_trial_count 4",
        ),
        (tuned(max_failed_trial_count=-1), r"'tuning\.max_failed_trial_count'"),
        (tuned(cv_folds=1), r"'tuning\.cv_folds'"),
        (
            tuned(early_stopping={"name": "medianstop", "start_step": 4}),
            r"tuning\.early_stopping\.start_step: 4 is above cv_folds 3",
        ),
        (tuned(early_stopping={"name": "truncation"}), r"'tuning\.early_stopping\.name'"),
        (tuned(backend="kubernetes"), r"'tuning\.backend'"),
    ],
)
def test_bad_tuning_sections_name_the_field(tuning, match):
    with pytest.raises(ConfigurationError, match=match):
        load_config(raw=churn_raw(tuning))


@pytest.mark.parametrize(
    ("tuning", "match"),
    [
        (
            tuned(objective={"metric": "rmse"}),
            r"tuning\.objective\.metric: rmse is not defined for classification",
        ),
        (
            tuned(parameters=[INT, param("max_dept", "int", min=1, max=3)]),
            r"tuning\.parameters\[1\]\.name: .*RandomForestClassifier has no parameter 'max_dept'",
        ),
        (
            tuned(
                algorithm={"name": "grid"},
                parameters=[param("min_impurity_decrease", "double", min=0, max=0.1)],
            ),
            r"tuning\.parameters\[0\]\.feasible_space\.step: grid needs a step",
        ),
        (
            tuned(
                algorithm={"name": "grid"},
                max_trial_count=4,
                parallel_trial_count=1,
                parameters=[param("max_depth", "int", min=2, max=4)],
            ),
            r"tuning\.max_trial_count: 4 is above the 3 points of the grid",
        ),
        (
            tuned(algorithm={"name": "cmaes"}, parameters=[INT]),
            r"tuning\.algorithm\.name: cmaes needs two or more",
        ),
    ],
)
def test_checks_that_need_the_task_or_estimator_name_the_field(tuning, match):
    cfg = churn_config(tuning)
    with pytest.raises(ConfigurationError, match=match):
        check_tuning(cfg, TaskType.CLASSIFICATION)


def test_a_valid_section_passes_and_keeps_katib_strings():
    cfg = churn_config(
        tuned(
            parameters=[
                param("n_estimators", "discrete", list=[50, 100.0]),
                param("min_impurity_decrease", "double", min=0, max=0.1, step=0.05),
                param("max_features", "categorical", list=["sqrt", None, 0.5, True]),
            ]
        )
    )
    check_tuning(cfg, TaskType.CLASSIFICATION)
    spaces = [p.feasible_space for p in cfg.tuning.parameters]
    assert spaces[0].list == ["50", "100"]  # KFP turns 100 into 100.0; both mean 100
    assert (spaces[1].min, spaces[1].max, spaces[1].step) == ("0", "0.1", "0.05")
    assert spaces[2].list == ["sqrt", "null", "0.5", "true"]


def test_defaults_follow_katib():
    cfg = churn_config({"parameters": [INT]})
    tuning = cfg.tuning
    assert (tuning.parallel_trial_count, tuning.max_trial_count, tuning.max_failed_trial_count) == (
        3,
        12,
        3,
    )
    assert tuning.algorithm.name == "tpe" and tuning.backend is TuningBackend.AUTO
    assert objective_metric(cfg, TaskType.CLASSIFICATION) == "roc_auc"  # the promotion metric
    assert objective_direction(tuning, "log_loss") is Direction.MINIMIZE


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("int", "12", 12),
        ("int", "12.0", 12),
        ("double", "0.25", 0.25),
        ("double", "1", 1.0),
        ("discrete", "50", 50),
        ("discrete", "0.5", 0.5),
        ("discrete", "1.0", 1.0),
        ("categorical", "sqrt", "sqrt"),
        ("categorical", "null", None),
        ("categorical", "true", True),
        ("categorical", "0.5", 0.5),
    ],
)
def test_parse_value(type_, text, value):
    space = {"list": ["x"]} if type_ in ("discrete", "categorical") else {"min": "0", "max": "1"}
    parsed = parse_value(TuningParameter(name="p", type=type_, feasible_space=space), text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_value_rejects_a_fraction_for_int():
    spec = TuningParameter(
        name="p", type=ParameterType.INT, feasible_space={"min": "0", "max": "9"}
    )
    with pytest.raises(ConfigurationError, match=r"--param p=2\.5: p is int; pass a whole number"):
        parse_value(spec, "2.5")


def test_assignments_must_match_the_parameters():
    tuning = churn_config().tuning
    full = {"max_depth": "3", "min_samples_leaf": "2", "max_features": "sqrt"}
    assert parse_assignments(tuning, full) == {
        "max_depth": 3,
        "min_samples_leaf": 2,
        "max_features": "sqrt",
    }
    with pytest.raises(ConfigurationError, match=r"--param depth: not in tuning\.parameters"):
        parse_assignments(tuning, {**full, "depth": "3"})
    with pytest.raises(ConfigurationError, match=r"--param max_features: missing"):
        parse_assignments(tuning, {"max_depth": "3", "min_samples_leaf": "2"})
    assert split_param_args(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigurationError, match="expected NAME=VALUE"):
        split_param_args(["a"])


@pytest.mark.parametrize(
    ("space", "type_", "values"),
    [
        ({"min": 10, "max": 30, "step": 10}, "int", ["10", "20", "30"]),
        ({"min": 10, "max": 35, "step": 10}, "int", ["10", "20", "30"]),
        ({"min": 1, "max": 3}, "int", ["1", "2", "3"]),
        ({"min": 1, "max": 2}, "int", ["1", "2"]),
        ({"min": 0.1, "max": 0.3, "step": 0.1}, "double", ["0.1", "0.2", "0.3"]),
        ({"min": 0, "max": 1, "step": 1}, "double", ["0", "1"]),
        ({"list": ["a", "b"]}, "categorical", ["a", "b"]),
    ],
)
def test_grid_values(space, type_, values):
    spec = TuningParameter(name="p", type=type_, feasible_space=space)
    assert grid_values(spec) == values


def test_grid_size_is_the_product():
    cfg = churn_config(tuned(algorithm={"name": "grid"}))  # 7 depths x 20 leaf sizes x 2
    assert grid_size(cfg.tuning) == 280


@pytest.mark.parametrize(
    ("best", "goal", "direction", "reached"),
    [
        (0.9, 0.9, Direction.MAXIMIZE, True),
        (0.89, 0.9, Direction.MAXIMIZE, False),
        (4.0, 4.0, Direction.MINIMIZE, True),
        (4.1, 4.0, Direction.MINIMIZE, False),
        (None, 4.0, Direction.MINIMIZE, False),
        (0.5, None, Direction.MAXIMIZE, False),
    ],
)
def test_goal_reached(best, goal, direction, reached):
    assert goal_reached(best, goal, direction) is reached


@pytest.mark.parametrize(
    ("backend", "env", "resolved"),
    [
        (TuningBackend.AUTO, {}, TuningBackend.LOCAL),
        (TuningBackend.AUTO, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, TuningBackend.KATIB),
        (TuningBackend.LOCAL, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, TuningBackend.LOCAL),
        (TuningBackend.KATIB, {}, TuningBackend.KATIB),
    ],
)
def test_backend(backend, env, resolved):
    assert resolve_backend(backend, env) is resolved


def test_every_metric_has_a_task_and_a_scorer():
    assert set(METRIC_TASKS) == set(METRIC_DIRECTIONS) == set(scoring.METRICS)
