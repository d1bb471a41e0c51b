"""``kfops dashboard``: one web page for a project's runs, models, rollouts, drift and serving.

The data modules (``runs``, ``models``, ``rollouts``, ``drift``, ``serving``) read what the
other packages wrote and return plain JSON-ready dicts; ``access`` decides who may steer a
rollout (pure), ``identity`` asks Kubernetes (I/O); ``app`` serves the page and the JSON.
"""
