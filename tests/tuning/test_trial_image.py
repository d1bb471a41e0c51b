"""A Katib trial as its pod runs it: the trial Job's container, in kfops' image, reading
the training split from an S3 server (moto's, on 127.0.0.1; the container uses the host
network), printing the objective in the StdOut collector's format."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kfops.config import TaskType
from kfops.tuning.katib import trial_job
from tests.support.s3 import running_s3_server
from tests.tuning.conftest import churn_config

pytestmark = pytest.mark.slow

ASSIGNMENT = {"max_depth": "5", "min_samples_leaf": "4", "max_features": "sqrt"}


def trial_command(image: str, train_uri: str, env: dict[str, str]) -> list[str]:
    """``docker run`` of the trial Job's container, with Katib's parameter substitution."""
    cfg = churn_config()
    container = trial_job(cfg, TaskType.CLASSIFICATION, train_uri)["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["image"] == image
    args = [
        re.sub(r"\$\{trialParameters\.(\w+)\}", lambda m: ASSIGNMENT[m.group(1)], arg)
        for arg in container["args"]
    ]
    pod_env = {item["name"]: item["value"] for item in container["env"]}
    command = ["run", "--rm", "--network", "host"]
    for name, value in {**pod_env, **env}.items():
        command += ["-e", f"{name}={value}"]
    return [*command, image, *container["command"], *args]


def test_a_trial_in_the_image_reads_its_split_from_s3_and_reports_the_objective(
    docker_engine: str, kfops_images: dict[str, str], churn_train: str
) -> None:
    with running_s3_server() as s3:
        s3.create_bucket("trials")
        s3.client().put_object(
            Bucket="trials", Key="run-1/train.parquet", Body=Path(churn_train).read_bytes()
        )
        run = trial_command(kfops_images["kfops"], "s3://trials/run-1/train.parquet", s3.env())
        ran = subprocess.run([docker_engine, *run], capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stderr[-3000:]
        # One running mean per fold (cv_folds: 3), and nothing else on stdout.
        lines = ran.stdout.strip().splitlines()
        assert len(lines) == 3 and all(line.startswith("roc_auc=") for line in lines)
        assert 0.6 < float(lines[-1].split("=", 1)[1]) <= 1.0

        missing = trial_command(kfops_images["kfops"], "s3://trials/run-2/train.parquet", s3.env())
        failed = subprocess.run(
            [docker_engine, *missing], capture_output=True, text=True, timeout=300
        )
    assert failed.returncode != 0
    said = failed.stderr.strip().splitlines()
    assert len(said) == 1 and "s3://trials/run-2/train.parquet" in said[0], failed.stderr
