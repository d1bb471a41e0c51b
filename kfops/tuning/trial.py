"""The trial entry point, as Katib runs it in a trial pod and as anyone can run it by hand::

    python -m kfops.tuning.trial --config kfops.yaml --param n_estimators=200 --param max_depth=8
    python -m kfops.tuning.trial --config-json '{...}' --train s3://bucket/train.parquet ...

It cross-validates the parameters on the training split (``--train``, a Parquet path or
URI; without it the split of ``data.path`` that ingest would make) and prints the
objective in Katib's StdOut collector format, ``roc_auc=0.8123``, once per fold (the
running mean; the last line is the trial's value). Logs go to stderr, so stdout carries
nothing else that reads as ``name=value``. Exit status: 0, or the error's exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from typing import TextIO

import pandas as pd

from kfops.config import KfopsConfig, TaskType, config_from_dict, load_config
from kfops.errors import ConfigurationError, DataError, exit_on_error, one_line
from kfops.tuning.objective import TrialScore, cross_validate
from kfops.tuning.spec import (
    check_tuning,
    objective_metric,
    parse_assignments,
    require_tuning,
    split_param_args,
)

FSSPEC_SCHEMES = {"minio": "s3"}  # KFP's artifact store: S3 protocol under another name


def read_train(uri: str) -> pd.DataFrame:
    """The training split from a local path or an fsspec URI (s3://, gs://, minio://)."""
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme in FSSPEC_SCHEMES:
        uri = f"{FSSPEC_SCHEMES[scheme]}://{uri.split('://', 1)[1]}"
    try:
        return pd.read_parquet(uri)
    except ImportError as exc:
        raise DataError(
            f"--train {uri}: reading it needs the fsspec driver for '{scheme}' "
            f"(s3fs for s3:// and minio://) in the image ({exc}); install it there"
        ) from exc
    except (OSError, ValueError) as exc:
        detail = one_line(exc)
        raise DataError(f"--train {uri}: cannot read the Parquet split ({detail})") from exc


def _train_split(cfg: KfopsConfig) -> pd.DataFrame:
    from kfops.data.ingest import check_dataset, read_dataset, split_dataset

    frame = read_dataset(cfg.data.path, cfg.data.format)
    task = check_dataset(frame, cfg.data, cfg.data.path)
    return split_dataset(frame, cfg.data, task)[0]


def run_trial(
    cfg: KfopsConfig,
    frame: pd.DataFrame,
    task: TaskType,
    assignments: dict[str, str],
    out: TextIO | None = None,
) -> TrialScore:
    """Score one assignment and print ``<metric>=<running mean>`` after every fold."""
    if cfg.data.target not in frame.columns:
        raise DataError(
            f"training split has no target column '{cfg.data.target}'; pass the split ingest wrote"
        )
    check_tuning(cfg, task)
    params = parse_assignments(require_tuning(cfg), assignments)
    metric = objective_metric(cfg, task)

    def report(step: int, value: float) -> bool:
        print(f"{metric}={value:.10g}", file=out or sys.stdout, flush=True)
        return False  # in a cluster, Katib's medianstop stops the pod itself

    return cross_validate(frame, cfg, task, metric, params, report)


def _load(args: argparse.Namespace) -> KfopsConfig:
    if args.config:
        return load_config(args.config)
    try:
        raw = json.loads(args.config_json)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--config-json: not valid JSON ({exc.msg}); pass an object"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError("--config-json: expected a JSON object of config sections")
    return config_from_dict(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kfops.tuning.trial", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="path of kfops.yaml")
    source.add_argument("--config-json", help="the config as one JSON object")
    parser.add_argument("--train", help="training split (Parquet path or URI)")
    parser.add_argument("--task", choices=[t.value for t in TaskType])
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    warnings.simplefilter("ignore")  # library warnings would land in the collected log
    with exit_on_error:
        cfg = _load(args)
        frame = read_train(args.train) if args.train else _train_split(cfg)
        if args.task:
            task = TaskType(args.task)
        elif cfg.data.task:
            task = cfg.data.task
        else:
            from kfops.data.ingest import infer_task

            task = infer_task(frame[cfg.data.target])
        run_trial(cfg, frame, task, split_param_args(args.param))
    return 0


if __name__ == "__main__":
    sys.exit(main())
