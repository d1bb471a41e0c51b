"""The trial entry point prints Katib's StdOut metrics format; its errors are one line."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from kfops.config import TaskType
from kfops.errors import ConfigurationError, DataError
from kfops.tuning import trial
from kfops.tuning.objective import cross_validate
from tests.tuning.conftest import churn_config

# Katib's default StdOut filter: metric name, then value.
KATIB_FORMAT = re.compile(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)")
ASSIGNMENT = {"max_depth": "4", "min_samples_leaf": "5", "max_features": "sqrt"}


def test_prints_the_running_mean_per_fold_in_katib_format(churn_train):
    cfg = churn_config()
    frame = pd.read_parquet(churn_train)
    out = io.StringIO()
    score = trial.run_trial(cfg, frame, TaskType.CLASSIFICATION, ASSIGNMENT, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == cfg.tuning.cv_folds == len(score.intermediate)
    parsed = [KATIB_FORMAT.fullmatch(line) for line in lines]
    assert all(match and match[1] == "roc_auc" for match in parsed)
    assert [float(m[2]) for m in parsed] == pytest.approx(score.intermediate)
    assert float(parsed[-1][2]) == pytest.approx(score.value)  # metricStrategies: latest
    params = {"max_depth": 4, "min_samples_leaf": 5, "max_features": "sqrt"}
    again = cross_validate(frame, cfg, TaskType.CLASSIFICATION, "roc_auc", params)
    assert again.value == pytest.approx(score.value)  # the local tuner scores the same way


def test_a_trial_fits_the_users_preprocessing_from_the_project_folder(tmp_path, churn_train):
    """Trials score the model train fits: model.preprocessing included, its package found
    in the project folder as train finds it (it is not installed)."""
    package = tmp_path / "tuned_transformers"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n\n\n"
        "class Marked(BaseEstimator, TransformerMixin):\n"
        "    def fit(self, frame, target=None):\n"
        "        return self\n\n"
        "    def transform(self, frame):\n"
        "        raise ValueError('the trial ran the marked transformer')\n"
    )
    cfg = churn_config(model={
        "estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 5},
        "preprocessing": [{"transformer": "tuned_transformers.Marked"}],
    })  # fmt: skip
    cfg = cfg.model_copy(update={"base_dir": str(tmp_path)})
    frame = pd.read_parquet(churn_train)
    with pytest.raises(Exception, match="the trial ran the marked transformer"):
        cross_validate(frame, cfg, TaskType.CLASSIFICATION, "roc_auc", {"max_depth": 3})


def test_cli_with_a_bad_value_exits_with_the_error_code(tmp_path, churn_train, capsys):
    config = tmp_path / "kfops.yaml"
    import yaml

    from tests.tuning.conftest import churn_raw

    config.write_text(yaml.safe_dump(churn_raw()))
    args = ["--config", str(config), "--train", churn_train, "--param", "max_depth=4.5"]
    args += ["--param", "min_samples_leaf=2", "--param", "max_features=sqrt"]
    with pytest.raises(SystemExit) as exited:
        trial.main(args)
    assert exited.value.code == ConfigurationError.exit_code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err.strip()
        == "kfops: error: --param max_depth=4.5: max_depth is int; pass a whole number"
    )


def test_cli_takes_the_config_as_json(churn_train, capsys):
    import json

    from tests.tuning.conftest import churn_raw

    args = [
        "--config-json",
        json.dumps(churn_raw()),
        "--train",
        churn_train,
        "--task",
        "classification",
    ]
    args += [f"--param={k}={v}" for k, v in ASSIGNMENT.items()]
    assert trial.main(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


@pytest.mark.parametrize(
    ("uri", "read"),
    [
        ("minio://mlpipeline/v2/artifacts/x/train", "s3://mlpipeline/v2/artifacts/x/train"),
        ("s3://bucket/train.parquet", "s3://bucket/train.parquet"),
        ("/tmp/train.parquet", "/tmp/train.parquet"),
    ],
)
def test_minio_artifact_uris_are_read_as_s3(monkeypatch, uri, read):
    seen = []
    monkeypatch.setattr(pd, "read_parquet", lambda path: seen.append(path) or pd.DataFrame())
    trial.read_train(uri)
    assert seen == [read]


def test_a_missing_fsspec_driver_is_named(monkeypatch):
    def missing(path):
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(pd, "read_parquet", missing)
    with pytest.raises(DataError, match=r"needs the fsspec driver for 'minio' \(s3fs"):
        trial.read_train("minio://b/k")
