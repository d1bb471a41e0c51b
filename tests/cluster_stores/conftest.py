"""The stores a cluster deployment uses, started on 127.0.0.1 for the session: moto's S3
server, PostgreSQL, an MLflow tracking server on both (tests/support); Redis (tests/features)."""

from tests.features.conftest import redis_server  # noqa: F401
from tests.support.mlflow_server import mlflow_server, postgres, s3  # noqa: F401
