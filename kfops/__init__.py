"""kfops: a Kubeflow-native MLOps platform.

Kept import-light on purpose: the TFDV runtime imports ``kfops.validation.tfdv_worker``
with an interpreter that has neither pydantic nor kfp installed.
"""

__version__ = "0.1.0"
