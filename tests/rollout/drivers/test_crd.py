"""The ModelRollout CRD (kfops.rollout.drivers.crd): generated from RolloutSpec, committed, and
strict enough that the API server refuses what the pydantic model refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfops.config.rollout import RolloutSpec
from kfops.rollout.drivers import crd

jsonschema = pytest.importorskip("jsonschema")

COMMITTED = Path(__file__).resolve().parents[3] / "manifests" / "base" / "modelrollout-crd.yaml"
EXAMPLE = (
    Path(__file__).resolve().parents[3] / "manifests" / "examples" / "modelrollout-canary.yaml"
)


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return crd.custom_resource_definition()


@pytest.fixture(scope="module")
def validator(generated: dict[str, Any]) -> Any:
    (version,) = generated["spec"]["versions"]
    schema = crd.json_schema(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft4Validator(schema)


@pytest.fixture
def example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def errors(validator: Any, document: dict[str, Any]) -> list[str]:
    return sorted(
        ".".join(map(str, error.absolute_path)) + ": " + error.message
        for error in validator.iter_errors(document)
    )


def test_the_committed_crd_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == crd.render(), (
        "manifests/base/modelrollout-crd.yaml is stale: run "
        "python -m kfops.rollout.drivers.crd --write manifests/base/modelrollout-crd.yaml"
    )


def test_names_scope_subresource_and_columns(generated: dict[str, Any]) -> None:
    spec = generated["spec"]
    assert generated["metadata"]["name"] == "modelrollouts.rollouts.kfops.io"
    assert (spec["group"], spec["scope"]) == ("rollouts.kfops.io", "Namespaced")
    assert spec["names"]["kind"] == "ModelRollout"
    assert spec["names"]["shortNames"] == ["mro"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Phase": ".status.phase",
        "Step": ".status.currentStepIndex",
        "Weight": ".status.canaryWeight",
        "Candidate": ".spec.candidate.version",
        "Gate": ".status.gateDecision",
        "Age": ".metadata.creationTimestamp",
    }


def test_printer_columns_read_fields_the_status_model_has() -> None:
    from kfops.rollout.engine.status import RolloutStatus

    wire = set(RolloutStatus.model_json_schema(by_alias=True)["properties"])
    for _, _, path, _ in crd.PRINTER_COLUMNS:
        if path.startswith(".status."):
            assert path.removeprefix(".status.") in wire


def test_the_schema_is_structural(generated: dict[str, Any]) -> None:
    """Every node has a type (or is int-or-string / open), no refs, no anyOf, no
    additionalProperties beside properties: what apiextensions v1 demands."""
    (version,) = generated["spec"]["versions"]

    def walk(node: dict[str, Any], where: str) -> None:
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title", "default"} & set(node), where
        assert "type" in node or node.get("x-kubernetes-int-or-string"), where
        assert not ("properties" in node and "additionalProperties" in node), where
        for name, child in node.get("properties", {}).items():
            walk(child, f"{where}.{name}")
        if "items" in node:
            walk(node["items"], f"{where}[]")

    walk(version["schema"]["openAPIV3Schema"], "")


def test_conversions_keep_descriptions_bounds_enums_and_nullability(
    generated: dict[str, Any],
) -> None:
    (version,) = generated["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["model", "stable", "candidate", "strategy"]
    step = spec["properties"]["strategy"]["properties"]["canary"]["properties"]["steps"]["items"]
    assert step["properties"]["setWeight"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "nullable": True,
    }
    assert step["properties"]["pause"]["properties"]["duration"] == {
        "x-kubernetes-int-or-string": True,
        "nullable": True,
        "description": "Unset: wait for `rollout promote`.",
    }
    assert step["x-kubernetes-validations"][0]["rule"] == crd.STEP_RULE
    traffic = spec["properties"]["traffic"]["properties"]
    assert traffic["deploymentMode"]["enum"] == ["Serverless", "RawDeployment"]
    assert traffic["deploymentMode"]["description"] == "Default: Serverless."
    comparison = step["properties"]["experiment"]["properties"]["comparison"]["properties"]
    assert comparison["alpha"] == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 1,
        "exclusiveMaximum": True,
        "description": "Default: 0.05.",
    }
    metric = spec["properties"]["analysisTemplates"]["items"]["properties"]["metrics"]["items"]
    assert metric["properties"]["failureLimit"]["minimum"] == -1
    assert "Failed measurements tolerated" in metric["properties"]["failureLimit"]["description"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True


def test_the_example_validates_against_the_schema_and_the_model(
    validator: Any, example: dict[str, Any]
) -> None:
    assert errors(validator, example) == []
    RolloutSpec.model_validate(example["spec"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["spec"]["strategy"]["canary"]["steps"].append({"setWeight": 150}),
            "150 is greater than the maximum of 100",
        ),
        (
            lambda d: d["spec"].update(candidateVersion="8"),
            "Additional properties are not allowed ('candidateVersion' was unexpected)",
        ),
        (
            lambda d: d["spec"]["traffic"].update(deploymentMode="Knative"),
            "'Knative' is not one of ['Serverless', 'RawDeployment']",
        ),
        (lambda d: d["spec"].pop("candidate"), "'candidate' is a required property"),
        (
            lambda d: d["spec"]["strategy"]["canary"]["steps"].append({"pause": {"duration": 1.5}}),
            "1.5 is not of type 'integer', 'string'",
        ),
        (lambda d: d["spec"]["strategy"]["canary"].update(steps=[]), "should be non-empty"),
    ],
    ids=[
        "setWeight-150",
        "unknown-field",
        "bad-enum",
        "missing-required",
        "float-duration",
        "no-steps",
    ],
)
def test_invalid_rollouts_fail_the_schema(
    validator: Any, example: dict[str, Any], change: Any, expected: str
) -> None:
    document = copy.deepcopy(example)
    change(document)
    found = errors(validator, document)
    assert any(expected in line for line in found), found


def test_nullable_fields_accept_null(validator: Any, example: dict[str, Any]) -> None:
    example["spec"]["traffic"]["virtualService"] = None
    assert errors(validator, example) == []


def test_the_cli_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "crd.yaml"
    assert crd.main(["--write", str(target)]) == 0
    assert yaml.safe_load(target.read_text()) == crd.custom_resource_definition()


def test_an_unexpressible_anyof_is_refused() -> None:
    with pytest.raises(ValueError, match="anyOf"):
        crd.structural({"anyOf": [{"type": "string"}, {"type": "boolean"}]}, {})
