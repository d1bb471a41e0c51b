"""Katib algorithm -> optuna sampler: how the embedded tuner reads the same spec.

| Katib algorithm      | optuna                                              | settings read          |
|----------------------|-----------------------------------------------------|------------------------|
| random               | RandomSampler                                       | random_state           |
| tpe                  | TPESampler(constant_liar=True)                      | n_startup_trials, n_ei_candidates, random_state |
| multivariate-tpe     | TPESampler(multivariate=True, constant_liar=True)   | as tpe                 |
| grid                 | GridSampler over every min..max by step, or list    | random_state           |
| cmaes                | CmaEsSampler (needs the ``cmaes`` package)          | random_state, sigma; restart_strategy none only (optuna 5 ignores ipop/bipop) |
| sobol                | QMCSampler(qmc_type="sobol")                        | (none)                 |
| bayesianoptimization | GPSampler (needs ``torch``)                         | random_state, n_initial_points; base_estimator GP, acq_func EI, acq_optimizer auto only |
| hyperband            | none: ConfigurationError, never a substitute        |                        |

Katib's own optuna-based service builds tpe, multivariate-tpe, cmaes, random and grid the
same way (constant_liar included). Without random_state the seed is ``data.split.seed``.
"""

from __future__ import annotations

import importlib.util
import warnings

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from kfops.config import KatibAlgorithm, ParameterType, TuningConfig
from kfops.errors import ConfigurationError
from kfops.tuning.spec import grid_values

OPTIONAL_PACKAGES = {KatibAlgorithm.CMAES: "cmaes", KatibAlgorithm.BAYESIAN_OPTIMIZATION: "torch"}
"""Samplers whose optuna implementation imports a package that kfops does not depend on."""

LOCAL_ONLY_VALUES = {"base_estimator": "GP", "acq_func": "EI", "acq_optimizer": "auto"}
"""bayesianoptimization settings the GP sampler honours only at these values."""


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler for ask-and-tell: it ends the study itself once the grid is used up
    (``study.stop``), which only works inside ``study.optimize``; here the tuner stops at
    ``max_trial_count``, which is checked to be at most the grid's size."""

    def after_trial(self, *args: object, **kwargs: object) -> None:
        return None


def distributions(tuning: TuningConfig) -> dict[str, BaseDistribution]:
    """optuna's search space. Grid and list parameters range over Katib value strings."""
    if tuning.algorithm.name is KatibAlgorithm.GRID:
        return {p.name: CategoricalDistribution(grid_values(p)) for p in tuning.parameters}
    space: dict[str, BaseDistribution] = {}
    for i, param in enumerate(tuning.parameters):
        fs = param.feasible_space
        log = fs.distribution == "log_uniform"
        if log and fs.step:
            raise ConfigurationError(
                f"tuning.parameters[{i}].feasible_space.step: log_uniform with a step has no "
                "local equivalent; remove the step or the distribution"
            )
        if param.type is ParameterType.INT:
            step = int(float(fs.step)) if fs.step else 1
            low, high = int(float(fs.min or 0)), int(float(fs.max or 0))
            high = low + (high - low) // step * step  # optuna's grid ends on a step
            space[param.name] = IntDistribution(low, high, step=step, log=log)
        elif param.type is ParameterType.DOUBLE:
            step_value = float(fs.step) if fs.step else None
            low, high = float(fs.min or 0), float(fs.max or 0)
            if step_value:
                high = low + int(round((high - low) / step_value, 9)) * step_value
            space[param.name] = FloatDistribution(low, high, step=step_value, log=log)
        else:
            space[param.name] = CategoricalDistribution(list(fs.list or []))
    return space


def _int_setting(settings: dict[str, str], name: str) -> dict[str, int]:
    return {} if name not in settings else {name: int(settings[name])}


def build_sampler(tuning: TuningConfig, default_seed: int) -> optuna.samplers.BaseSampler:
    """The optuna sampler for ``tuning.algorithm``; see the table in this module's docstring.

    Raises:
        ConfigurationError: hyperband, a setting with no local meaning, or a sampler whose
            package is not installed.
    """
    name, settings = tuning.algorithm.name, tuning.algorithm.settings
    seed = int(settings.get("random_state", default_seed))
    if name is KatibAlgorithm.HYPERBAND:
        raise ConfigurationError(
            "tuning.algorithm.name: hyperband has no local equivalent (optuna samplers do not "
            "split a resource budget into brackets); use tuning.backend: katib, or another "
            "algorithm such as tpe"
        )
    package = OPTIONAL_PACKAGES.get(name)
    if package and importlib.util.find_spec(package) is None:
        raise ConfigurationError(
            f"tuning.algorithm.name: {name} runs locally on optuna's "
            f"{'CmaEsSampler' if name is KatibAlgorithm.CMAES else 'GPSampler'}, which needs "
            f"the '{package}' package, not installed here; use tpe, or tuning.backend: katib"
        )
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if name is KatibAlgorithm.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    if name in (KatibAlgorithm.TPE, KatibAlgorithm.MULTIVARIATE_TPE):
        options = {
            **_int_setting(settings, "n_startup_trials"),
            **_int_setting(settings, "n_ei_candidates"),
        }
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=name is KatibAlgorithm.MULTIVARIATE_TPE,
            constant_liar=True,
            **options,
        )
    if name is KatibAlgorithm.GRID:
        space = {p.name: grid_values(p) for p in tuning.parameters}
        return AskTellGridSampler(space, seed=seed)
    if name is KatibAlgorithm.SOBOL:
        return optuna.samplers.QMCSampler(
            qmc_type="sobol", seed=seed, warn_independent_sampling=False
        )
    if name is KatibAlgorithm.CMAES:
        if settings.get("restart_strategy", "none") != "none":
            raise ConfigurationError(
                f"tuning.algorithm.settings.restart_strategy: '{settings['restart_strategy']}' "
                "has no local equivalent (optuna 5 ignores it); remove it or use "
                "tuning.backend: katib"
            )
        sigma = float(settings["sigma"]) if "sigma" in settings else None
        with warnings.catch_warnings():  # sigma0 is deprecated in optuna 4.9 but honoured
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.CmaEsSampler(
                seed=seed, sigma0=sigma, warn_independent_sampling=False
            )
    for setting, only in LOCAL_ONLY_VALUES.items():
        if settings.get(setting, only) != only:
            raise ConfigurationError(
                f"tuning.algorithm.settings.{setting}: '{settings[setting]}' has no local "
                f"equivalent (optuna's GPSampler is {only}); remove it or use tuning.backend: katib"
            )
    return optuna.samplers.GPSampler(
        seed=seed,
        n_startup_trials=int(settings.get("n_initial_points", 10)),
        warn_independent_sampling=False,
    )
