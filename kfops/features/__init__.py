"""Feast in the training pipeline: open and apply the repo, materialize, build training sets.

Modules import Feast (11-14 s cold); import them only when a ``features`` section is set.
"""

import prometheus_client.values  # noqa: F401  (before Feast: see feast_metrics)
