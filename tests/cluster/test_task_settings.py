"""Task settings land in the compiled pipeline: images and resources in the PipelineSpec,
node selector and secrets in the Kubernetes platform spec."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl

from kfops.cluster.task_settings import (
    COMPONENT_NAMES,
    apply_task_settings,
    check_component_names,
    image_for,
    resources_for,
)
from kfops.config import ClusterConfig, ComponentResources
from kfops.errors import ConfigurationError


def step(name: str) -> str:
    """A trivial component body: the tests only look at how its task is configured."""
    return name


def compile_pipeline(cluster: ClusterConfig, tmp_path: Path, components=COMPONENT_NAMES):
    """Compile one task per component, configured as the pipeline builder does it."""

    @dsl.pipeline(name="settings-test")
    def pipeline():  # no annotations: kfp reads them as the pipeline's outputs
        for component in components:
            op = dsl.component(base_image=image_for(component, cluster), install_kfp_package=False)(
                step
            )
            task = op(name=component).set_display_name(component)
            apply_task_settings(task, component, cluster)

    package = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(pipeline, str(package))
    docs = list(yaml.safe_load_all(package.read_text()))
    return docs[0], (docs[1] if len(docs) > 1 else {})


def executor(spec: dict[str, Any], component: str) -> str:
    """Executor label of the task displayed as ``component``."""
    for task in spec["root"]["dag"]["tasks"].values():
        if task["taskInfo"]["name"] == component:
            return spec["components"][task["componentRef"]["name"]]["executorLabel"]
    raise AssertionError(f"no task {component}")


def container(spec: dict[str, Any], component: str) -> dict[str, Any]:
    return spec["deploymentSpec"]["executors"][executor(spec, component)]["container"]


def k8s(platform: dict[str, Any], spec: dict[str, Any], component: str) -> dict[str, Any]:
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return executors[executor(spec, component)]


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("images", "component", "expected"),
    [
        ({}, "ingest", "main:1"),
        ({}, "train", "main:1"),
        ({}, "validate", "tfdv:1"),
        ({}, "drift", "tfdv:1"),
        ({"train": "gpu:2"}, "train", "gpu:2"),
        ({"train": "gpu:2"}, "evaluate", "main:1"),
        ({"validate": "tfdv:custom"}, "validate", "tfdv:custom"),
    ],
)
def test_image_for(images: dict[str, str], component: str, expected: str) -> None:
    cluster = ClusterConfig(image="main:1", tfdv_image="tfdv:1", images=images)
    assert image_for(component, cluster) == expected


def test_unknown_image_key_names_the_key_and_the_components() -> None:
    cluster = ClusterConfig(images={"trian": "x:1"})
    with pytest.raises(ConfigurationError) as info:
        image_for("train", cluster)
    assert str(info.value) == (
        "cluster.images.trian: unknown component 'trian'; "
        "use one of drift, ingest, features, validate, tune, train, evaluate, register, promote, "
        "deploy"
    )


def test_unknown_resources_key_is_rejected_but_default_is_allowed() -> None:
    check_component_names(ClusterConfig(resources={"default": ComponentResources()}))
    cluster = ClusterConfig(resources={"gpu": ComponentResources(cpu_limit="1")})
    with pytest.raises(ConfigurationError, match=r"^cluster\.resources\.gpu: unknown component"):
        check_component_names(cluster)


def test_known_components_can_be_passed_in() -> None:
    cluster = ClusterConfig(images={"tune": "katib:1"})
    assert image_for("tune", cluster, known=("tune",)) == "katib:1"
    with pytest.raises(ConfigurationError, match="use one of tune$"):
        image_for("tune", ClusterConfig(images={"train": "x"}), known=("tune",))


def test_unknown_component_argument_is_a_builder_bug() -> None:
    with pytest.raises(ValueError, match="component 'valdate' is not one of drift, ingest"):
        image_for("valdate", ClusterConfig())


# ---------------------------------------------------------------- resources


@pytest.mark.parametrize(
    ("resources", "component", "expected_key"),
    [
        ({}, "train", "default"),
        ({"default": ComponentResources(cpu_limit="1")}, "train", "default"),
        ({"train": ComponentResources(cpu_limit="2")}, "train", "train"),
        ({"train": ComponentResources(cpu_limit="2")}, "ingest", "default"),
    ],
)
def test_resources_for(resources, component: str, expected_key: str) -> None:
    key, found = resources_for(component, ClusterConfig(resources=resources))
    assert key == expected_key
    assert found == resources.get(expected_key)


def test_resources_in_compiled_spec(tmp_path: Path) -> None:
    cluster = ClusterConfig(
        resources={
            "default": ComponentResources(cpu_request="250m", memory_request="256Mi"),
            # train's own entry replaces the default as a whole: no cpu/memory requests
            "train": ComponentResources(cpu_limit="2", memory_limit="4Gi"),
        }
    )
    spec, _ = compile_pipeline(cluster, tmp_path, ("ingest", "train"))

    ingest = container(spec, "ingest")["resources"]
    assert ingest["resourceCpuRequest"] == "250m"
    assert ingest["resourceMemoryRequest"] == "256Mi"
    assert "resourceCpuLimit" not in ingest and "resourceMemoryLimit" not in ingest

    train = container(spec, "train")["resources"]
    assert train["resourceCpuLimit"] == "2"
    assert train["resourceMemoryLimit"] == "4Gi"
    assert "resourceCpuRequest" not in train and "resourceMemoryRequest" not in train


def test_images_in_compiled_spec(tmp_path: Path) -> None:
    cluster = ClusterConfig(image="main:1", tfdv_image="tfdv:1", images={"promote": "ops:3"})
    spec, _ = compile_pipeline(cluster, tmp_path)
    images = {c: container(spec, c)["image"] for c in COMPONENT_NAMES}
    assert images == {
        **dict.fromkeys(COMPONENT_NAMES, "main:1"),
        "validate": "tfdv:1",
        "drift": "tfdv:1",
        "promote": "ops:3",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_request", "lots"),
        ("cpu_limit", "1.5.2"),
        ("memory_limit", "1.5Gi"),
        ("memory_request", "4GB"),
    ],
)
def test_invalid_quantity_names_the_field(field: str, value: str) -> None:
    cluster = ClusterConfig(resources={"train": ComponentResources(**{field: value})})
    with pytest.raises(ConfigurationError, match=rf"^cluster\.resources\.train\.{field}: invalid"):
        compile_pipeline(cluster, Path("/nonexistent"), ("train",))


# ---------------------------------------------------------------- node selector and secrets


def test_node_selector_and_secrets_in_platform_spec(tmp_path: Path) -> None:
    cluster = ClusterConfig(
        node_selector={"pool": "ml", "kubernetes.io/arch": "amd64"},
        secrets_as_env={
            "mlflow-s3": {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"},
            "mlflow-db": {"uri": "MLFLOW_TRACKING_URI"},
        },
    )
    spec, platform = compile_pipeline(cluster, tmp_path, ("validate", "register"))
    for component in ("validate", "register"):
        settings = k8s(platform, spec, component)
        assert settings["nodeSelector"]["labels"] == {"pool": "ml", "kubernetes.io/arch": "amd64"}
        secrets = {s["secretName"]: s for s in settings["secretAsEnv"]}
        assert set(secrets) == {"mlflow-s3", "mlflow-db"}
        assert secrets["mlflow-s3"]["keyToEnv"] == [
            {"secretKey": "access_key", "envVar": "AWS_ACCESS_KEY_ID"},
            {"secretKey": "secret_key", "envVar": "AWS_SECRET_ACCESS_KEY"},
        ]
        assert secrets["mlflow-db"]["keyToEnv"] == [
            {"secretKey": "uri", "envVar": "MLFLOW_TRACKING_URI"}
        ]
        assert secrets["mlflow-db"]["secretNameParameter"] == {
            "runtimeValue": {"constant": "mlflow-db"}
        }


def test_empty_cluster_section_adds_nothing(tmp_path: Path) -> None:
    spec, platform = compile_pipeline(ClusterConfig(), tmp_path, ("ingest",))
    assert "resources" not in container(spec, "ingest")
    assert platform == {}


def test_secret_without_keys_is_rejected() -> None:
    cluster = ClusterConfig(secrets_as_env={"creds": {}})
    with pytest.raises(ConfigurationError, match=r"^cluster\.secrets_as_env\.creds: no keys"):
        compile_pipeline(cluster, Path("/nonexistent"), ("ingest",))
