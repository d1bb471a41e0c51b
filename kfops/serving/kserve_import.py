"""kserve, imported without letting it read our command line; kfops modules import it here.

``kserve.model_server`` parses ``sys.argv`` with argparse when it is imported, and
argparse accepts prefixes: ``kfops serve --model models:/churn@champion`` would set its
``--model_name``. Importing kserve through this module hides argv for that moment.
"""

from __future__ import annotations

import sys

_argv = sys.argv
sys.argv = _argv[:1]
try:
    import kserve
    from kserve import InferInput, InferOutput, InferRequest, InferResponse, Model, ModelServer
    from kserve import errors as kserve_errors
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as oip_pb2
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as oip_grpc
    from kserve.protocol.infer_type import RequestedOutput
    from kserve.protocol.rest.v1_endpoints import V1Endpoints
    from kserve.protocol.rest.v2_endpoints import V2Endpoints
finally:
    sys.argv = _argv

__all__ = [
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "Model",
    "ModelServer",
    "RequestedOutput",
    "V1Endpoints",
    "V2Endpoints",
    "kserve",
    "kserve_errors",
    "oip_grpc",
    "oip_pb2",
]
