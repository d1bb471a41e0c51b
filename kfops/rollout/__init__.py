"""Progressive delivery of models, Argo Rollouts' way.

- ``engine/``: the pure state machine (steps, analysis, conditions, experiments, A/B
  statistics, commands); no I/O.
- ``providers/``: where measurements come from (Prometheus).
- ``backends/``: who carries out the engine's actions (local router traffic, KServe
  patches, MLflow aliases).
- ``drivers/``: what runs ticks (the generic controller, the local driver and its store,
  the kopf operator, the ModelRollout objects and CRD).
- ``router/``: the local traffic router, a separate process.
"""
