"""V1 and V2 codecs (kfops.serving.protocols) and the predictor's call pattern."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.neighbors import KNeighborsClassifier

from kfops.serving.dataplane import Prediction, TabularRequest
from kfops.serving.errors import InputError, RequestError
from kfops.serving.kserve_import import InferInput, InferRequest, RequestedOutput
from kfops.serving.predictor import Predictor
from kfops.serving.protocols import V1Codec, V2Codec, from_infer_request
from kfops.serving.signature import InputSchema

SCHEMA = InputSchema.from_mlflow(
    [
        {"name": "tenure", "type": "long"},
        {"name": "charges", "type": "double"},
        {"name": "contract", "type": "string"},
    ],
    ["tenure", "charges", "contract"],
)
PREDICTION = Prediction(
    labels=np.array([1, 0]),
    probabilities=np.array([[0.2, 0.8], [0.9, 0.1]]),
    classes=[0, 1],
    model="churn",
    version="3",
)


def test_v1_decodes_rows_and_columns() -> None:
    codec = V1Codec()
    rows = codec.decode({"instances": [{"tenure": 1}]}, "r1")
    assert rows == TabularRequest(rows=[{"tenure": 1}], request_id="r1", protocol="v1")
    columns = codec.decode({"inputs": {"tenure": [1, 2]}})
    assert columns.columns == {"tenure": [1, 2]}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "the body is not an object"),
        (b"tenure=1", "the body is bytes of another content type"),
        ({"instances": {"tenure": 1}}, "'instances' must be a list of rows"),
        ({"rows": []}, "unknown key 'rows'"),
        ({"inputs": 5}, "send 'instances'"),
    ],
)
def test_v1_refuses_other_shapes_with_400(payload, message) -> None:
    with pytest.raises(RequestError, match=re.escape(message)) as caught:
        V1Codec().decode(payload)
    assert caught.value.http_status == 400


def test_v1_encodes_labels_probabilities_and_the_version() -> None:
    assert V1Codec().encode(PREDICTION) == {
        "predictions": [1, 0],
        "probabilities": [[0.2, 0.8], [0.9, 0.1]],
        "classes": [0, 1],
        "model_name": "churn",
        "model_version": "3",
    }


def v2(*inputs: dict, outputs: list[str] | None = None) -> dict:
    body: dict = {"id": "42", "inputs": list(inputs)}
    if outputs:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


def column(name: str, datatype: str, data: list, shape: list[int] | None = None) -> dict:
    return {"name": name, "shape": shape or [len(data)], "datatype": datatype, "data": data}


def test_v2_decodes_one_input_per_column() -> None:
    request = V2Codec(SCHEMA, None).decode(
        v2(
            column("tenure", "INT64", [1, 2]),
            column("charges", "FP32", [[1.5], [2.5]], [2, 1]),
            column("contract", "BYTES", ["a", "b"]),
        )
    )
    assert request.columns == {"tenure": [1, 2], "charges": [1.5, 2.5], "contract": ["a", "b"]}
    assert request.request_id == "42" and request.protocol == "v2"


def test_v2_decodes_a_matrix_in_model_order() -> None:
    body = v2(column("x", "BYTES", [1, 2.0, "a", 3, 4.0, "b"], [2, 3]))
    assert V2Codec(SCHEMA, None).decode(body).rows == [[1, 2.0, "a"], [3, 4.0, "b"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            v2(column("tenure", "BYTES", ["1"])),
            "input 'tenure': datatype BYTES does not fit the column's integer values; send INT64",
        ),
        (
            v2(column("tenure", "INT64", [1, 2], [3])),
            "input 'tenure': shape [3] holds 3 values, data has 2",
        ),
        (v2(column("tenure", "INT64", [1, 2], [1, 2])), "shape [1, 2] is not one column"),
        (v2(column("tenure", "WORDS", [1])), "datatype 'WORDS' is not an Open Inference type"),
        (
            v2(column("tenure", "INT64", [1]), column("tenure", "INT64", [1])),
            "input 'tenure' is sent twice",
        ),
        (v2(column("x", "FP64", [1.0])), "input 'x' is not a model column"),
        (v2(column("tenure", "INT64", [1]), outputs=["labels"]), "unknown output 'labels'"),
        (v2(column("tenure", "INT64", [1], [-1])), "must list non-negative sizes"),
        (v2(column("tenure", "INT64", [1], [True])), "must list non-negative sizes"),
        (
            v2({"name": "tenure", "datatype": "INT64", "data": [1]}),
            "inputs[0].shape: required, a list of sizes",
        ),
        (
            v2({"name": 5, "shape": [1], "datatype": "INT64", "data": [1]}),
            "inputs[0].name: invalid, a string",
        ),
        (v2("tenure"), "inputs[0]: expected an object"),
        ({"inputs": []}, "inputs: required, a non-empty list"),
        ({"id": 7, "inputs": []}, "id: must be a string"),
        ({"inputs": [], "outputs": "predict"}, "outputs: a list of objects"),
    ],
)
def test_v2_refuses_with_a_message_naming_the_field(body, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        V2Codec(SCHEMA, [0, 1]).decode(body)
    assert caught.value.http_status == 422


@pytest.mark.parametrize(
    ("body", "message"), [([1], "the body is not an object"), ({"rows": []}, "unknown key 'rows'")]
)
def test_v2_refuses_other_shapes_with_400(body, message) -> None:
    with pytest.raises(RequestError, match=message):
        V2Codec(SCHEMA, None).decode(body)


def test_v2_encodes_predict_and_predict_proba() -> None:
    codec = V2Codec(SCHEMA, [0, 1])
    response = codec.encode(PREDICTION, "42", {"predict", "predict_proba"})
    assert response["model_version"] == "3" and response["id"] == "42"
    predict, proba = response["outputs"]
    assert predict == {"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]}
    assert proba["shape"] == [2, 2] and proba["data"] == [0.2, 0.8, 0.9, 0.1]
    assert json.loads(proba["parameters"]["classes"]) == [0, 1]
    only = codec.encode(PREDICTION, "", codec.requested_outputs(v2(outputs=["predict"])))
    assert [o["name"] for o in only["outputs"]] == ["predict"]


def test_kserves_infer_request_becomes_the_same_body() -> None:
    request = InferRequest(
        model_name="churn",
        infer_inputs=[InferInput("tenure", [2], "INT64", [1, 2])],
        request_id="7",
        request_outputs=[RequestedOutput("predict")],
    )
    assert from_infer_request(request) == {
        "id": "7",
        "inputs": [column("tenure", "INT64", [1, 2])],
        "outputs": [{"name": "predict"}],
    }


def test_v2_metadata_describes_every_signature_column() -> None:
    codec = V2Codec(SCHEMA, [0, 1])
    assert codec.input_metadata()[0] == {"name": "tenure", "datatype": "INT64", "shape": [-1]}
    assert codec.output_metadata()[1] == {
        "name": "predict_proba",
        "datatype": "FP64",
        "shape": [-1, 2],
    }


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    return x, np.where(x["a"] + rng.normal(scale=0.5, size=200) > 0, "yes", "no")


def test_forest_labels_come_from_one_predict_proba_call(xy, monkeypatch) -> None:
    x, y = xy
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(x, y)
    predictor = Predictor(forest)
    expected = forest.predict(x)
    monkeypatch.setattr(forest, "predict", lambda *a: pytest.fail("predict called"))
    output = predictor.predict(x)
    assert (output.labels == expected).all() and output.probabilities.shape == (200, 2)
    assert predictor.classes == ["no", "yes"] and predictor.feature_names == ["a", "b", "c"]


def test_other_classifiers_and_regressors(xy) -> None:
    x, y = xy
    knn = KNeighborsClassifier().fit(x, y)
    output = Predictor(knn).predict(x)  # not on the argmax list: predict is called
    assert (output.labels == knn.predict(x)).all() and output.probabilities is not None
    regressor = RandomForestRegressor(n_estimators=5, random_state=0).fit(x, x["a"])
    output = Predictor(regressor).predict(x)
    assert output.probabilities is None and not Predictor(regressor).is_classifier
