"""The request bodies in the server's OpenAPI document, written from the model's signature.

The inference routes read the raw body, so FastAPI cannot describe it; these schemas let
clients (and the schemathesis fuzz test) know the columns, their JSON types and which are
required. The server's routes list the one model served as the path's ``model_name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfops.serving.signature import Kind, NanPolicy

if TYPE_CHECKING:
    from kfops.serving.model import KfopsModel

JSON_TYPES = {
    Kind.INTEGER: "integer",
    Kind.NUMBER: "number",
    Kind.TEXT: "string",
    Kind.BOOLEAN: "boolean",
    Kind.TIME: "string",
}


def v1_request_body(model: KfopsModel) -> dict[str, Any]:
    schema = model.dataplane.schema
    nullable = schema.nan_policy is NanPolicy.ALLOW
    properties = {}
    for column in schema.columns:
        kind: Any = JSON_TYPES[column.kind]
        properties[column.name] = {"type": [kind, "null"] if nullable else kind}
    row = {
        "type": "object",
        "properties": properties,
        "required": list(schema.model_order),
        "additionalProperties": False,
    }
    body = {
        "type": "object",
        "properties": {"instances": {"type": "array", "minItems": 1, "items": row}},
        "required": ["instances"],
        "additionalProperties": False,
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}


V2_DATATYPES = sorted(
    {f"INT{n}" for n in (8, 16, 32, 64)} | {f"UINT{n}" for n in (8, 16, 32, 64)}
    | {"FP16", "FP32", "FP64", "BYTES", "BOOL"}
)  # fmt: skip


def v2_request_body(model: KfopsModel) -> dict[str, Any]:
    """Open Inference Protocol's request, its input names drawn from the signature."""
    names = [c.name for c in model.dataplane.schema.columns]
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
            "datatype": {"type": "string", "enum": V2_DATATYPES},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
        "required": ["name", "shape", "datatype", "data"],
        "additionalProperties": False,
    }
    output = {
        "type": "object",
        "properties": {"name": {"type": "string", "enum": ["predict", "predict_proba"]}},
        "required": ["name"],
    }
    body = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "minItems": 1, "items": tensor},
            "outputs": {"type": "array", "items": output},
        },
        "required": ["inputs"],
        "additionalProperties": False,
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}
