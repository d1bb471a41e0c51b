"""Raw tensor bytes (kfops.serving.tensors) and the REST binary framing (kfops.serving.binary).

The byte layouts are checked against numpy's own little-endian encodings and against
tritonclient's serializer for BYTES, not against this code's own encoder alone.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from kfops.serving import binary, tensors
from kfops.serving.errors import RequestError
from kfops.serving.protocols import OutputTensor

NUMERIC = {
    "BOOL": (np.bool_, [True, False, True]),
    "INT8": (np.int8, [-128, 0, 127]),
    "INT16": (np.int16, [-32768, 1, 32767]),
    "INT32": (np.int32, [-(2**31), 2, 2**31 - 1]),
    "INT64": (np.int64, [-(2**63), 3, 2**63 - 1]),
    "UINT8": (np.uint8, [0, 1, 255]),
    "UINT16": (np.uint16, [0, 2, 65535]),
    "UINT32": (np.uint32, [0, 3, 2**32 - 1]),
    "UINT64": (np.uint64, [0, 4, 2**64 - 1]),
    "FP16": (np.float16, [0.5, -1.0, 2.0]),
    "FP32": (np.float32, [0.25, -1.5, 3.0]),
    "FP64": (np.float64, [0.1, -2.5, 1e300]),
}


@pytest.mark.parametrize("datatype", sorted(NUMERIC))
def test_every_fixed_size_type_round_trips(datatype: str) -> None:
    dtype, values = NUMERIC[datatype]
    raw = np.array(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    assert tensors.decode("x", datatype, raw) == values
    assert tensors.encode(datatype, np.array(values, dtype=dtype)) == raw


def test_bytes_use_the_length_prefixed_layout_of_tritons_client() -> None:
    words = ["month-to-month", "", "naïve"]
    raw = serialize_byte_tensor(np.array([w.encode() for w in words], dtype=object)).item()
    assert tensors.decode("contract", "BYTES", raw) == words
    encoded = tensors.encode("BYTES", np.array(words, dtype=object))
    assert [b.decode() for b in deserialize_bytes_tensor(encoded)] == words


@pytest.mark.parametrize(
    ("datatype", "raw", "words"),
    [
        ("INT64", b"\0" * 12, ["'x'", "whole number", "INT64"]),
        ("BOOL", b"\x02", ["'x'", "0 or 1"]),
        ("BYTES", b"\x05\0\0\0abc", ["'x'", "declares 5 bytes"]),
        ("BYTES", b"\x01\0", ["'x'", "truncated length prefix"]),
        ("BYTES", b"\x01\0\0\0\xff", ["'x'", "UTF-8"]),
        ("COMPLEX", b"", ["'x'", "COMPLEX"]),
    ],
)
def test_bad_buffers_name_the_input(datatype: str, raw: bytes, words: list[str]) -> None:
    with pytest.raises(RequestError) as caught:
        tensors.decode("x", datatype, raw)
    assert all(word in caught.value.message for word in words), caught.value.message


def test_decode_request_fills_data_and_keeps_json_inputs() -> None:
    header = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}},
            {"name": "b", "shape": [1], "datatype": "INT64", "data": [7]},
        ],
        "parameters": {"binary_data_output": True},
    }
    head = json.dumps(header).encode()
    body = head + np.array([1.5, 2.5], "<f4").tobytes()
    payload = binary.decode_request(body, str(len(head)))
    assert payload["inputs"][0]["data"] == [1.5, 2.5]
    assert payload["inputs"][0]["parameters"] == {}
    assert payload["inputs"][1]["data"] == [7]
    assert binary.binary_outputs(payload) == {"predict", "predict_proba"}


def test_binary_outputs_per_output_flags_override_the_request() -> None:
    payload = {
        "parameters": {"binary_data_output": True},
        "outputs": [{"name": "predict_proba", "parameters": {"binary_data": False}}],
    }
    assert binary.binary_outputs(payload) == {"predict"}
    with pytest.raises(RequestError, match="binary_data_output must be true or false"):
        binary.binary_outputs({"parameters": {"binary_data_output": "yes"}})


def test_encode_response_puts_raw_outputs_after_the_header() -> None:
    labels = OutputTensor("predict", np.array([1, 0], dtype=np.int64))
    proba = OutputTensor("predict_proba", np.array([[0.2, 0.8], [0.9, 0.1]]), {"classes": "[0, 1]"})
    body, length = binary.encode_response({"id": "r"}, [labels, proba], {"predict_proba"})
    header = json.loads(body[:length])
    assert header["outputs"][0]["data"] == [1, 0]
    described = header["outputs"][1]
    assert described["parameters"] == {"classes": "[0, 1]", "binary_data_size": 32}
    assert np.frombuffer(body[length:], "<f8").reshape(2, 2).tolist() == proba.values.tolist()
