"""docs/reference/configuration.md is what docs/reference/generate.py makes from the
pydantic models today: a new, renamed or re-described key fails here until regenerated."""

import importlib.util
from pathlib import Path

from kfops.config import KfopsConfig

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "reference" / "generate.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("config_reference", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_current() -> None:
    generator = load_generator()
    assert generator.PAGE.read_text() == generator.render(), (
        "docs/reference/configuration.md is stale: run "
        ".venv/bin/python docs/reference/generate.py --write"
    )


def test_every_section_and_nested_key_is_listed() -> None:
    page = load_generator().render()
    for name in KfopsConfig.model_fields:
        assert f"| `{name}` |" in page
    # nested models, lists of models and maps of models are followed
    for key in (
        "data.split.seed",
        "cluster.resources.<name>.cpu_request",
        "serving.autoscaling.target",
    ):
        assert f"| `{key}` |" in page
