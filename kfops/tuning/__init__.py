"""Hyperparameter tuning: one Katib-shaped spec, run by Katib in a cluster or locally.

- ``spec``: pure helpers over the ``tuning:`` section.
- ``objective`` and ``scoring``: a trial's cross-validated score. The same code runs in a
  Katib trial pod (``trial``) and in a local worker process.
- ``samplers`` and ``local``: the embedded optuna tuner.
- ``katib``: builds the Experiment. ``katib_status``: reads the Experiment's status.
- ``cluster``: the Kubernetes I/O that runs the Experiment.
- ``backends``: the table of backends by ``tuning.backend`` type (local, katib).
- ``results``, ``progress`` and ``tracking``: the trial table, the progress display and the
  MLflow runs.
"""
