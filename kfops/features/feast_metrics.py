"""Undo Feast's switch of Prometheus metrics to multiprocess mode.

Importing Feast (its metrics module) sets ``PROMETHEUS_MULTIPROC_DIR`` for the whole
process, for Gunicorn workers. A ``prometheus_client`` imported after that stores every
metric value in files keyed by name and labels, so two registries in one process share
their counts (two routers, two model servers), and every child process inherits the
setting. ``kfops.features`` imports ``prometheus_client`` before Feast (which fixes its
value class to the single-process one), and each module that imports Feast calls
:func:`forget_feast_multiprocess_dir` so that children do not inherit Feast's directory.
"""

from __future__ import annotations

import os

MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")


def forget_feast_multiprocess_dir() -> None:
    """Remove the variables when they name the directory Feast made for itself."""
    import sys

    module = sys.modules.get("feast.metrics")
    own = (
        getattr(module, "_prometheus_mp_dir", None)
        if getattr(module, "_owns_mp_dir", False)
        else None
    )
    if own is None:
        return
    for name in MULTIPROCESS_VARIABLES:
        if os.environ.get(name) == own:
            del os.environ[name]
