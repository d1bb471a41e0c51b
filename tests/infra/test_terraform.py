"""terraform/ without a Terraform binary or providers: every file parses as HCL, the module
graph is wired (required variables passed, no unknown ones, referenced outputs exist,
every var.X declared), variables and outputs are documented, and checkov finds nothing."""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest

from tests.infra.checkov_scan import assert_clean, run_checkov

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
# Arguments of a module block that are Terraform's own, not the module's variables.
META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}
MODULE_OUTPUT = re.compile(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")
VARIABLE_USE = re.compile(r"\bvar\.([A-Za-z_][\w-]*)")


@dataclass(frozen=True)
class TfModule:
    """One folder of .tf files, as Terraform sees it: its variables, outputs, module calls."""

    path: Path
    variables: dict[str, dict]
    outputs: dict[str, dict]
    calls: dict[str, dict]
    text: str

    @property
    def required(self) -> set[str]:
        return {name for name, spec in self.variables.items() if "default" not in spec}


def load_module(folder: Path) -> TfModule:
    variables: dict[str, dict] = {}
    outputs: dict[str, dict] = {}
    calls: dict[str, dict] = {}
    texts = []
    for tf in sorted(folder.glob("*.tf")):
        texts.append(tf.read_text())
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("variable", []):
            variables.update(block)
        for block in parsed.get("output", []):
            outputs.update(block)
        for block in parsed.get("module", []):
            calls.update(block)
    return TfModule(folder, variables, outputs, calls, "\n".join(texts))


MODULE_DIRS = sorted({tf.parent for tf in TF_FILES})


def test_terraform_tree_exists() -> None:
    assert {"modules/gke", "modules/platform", "envs/dev", "envs/prod"} <= {
        str(d.relative_to(TERRAFORM)) for d in MODULE_DIRS
    }


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses_as_hcl(path: Path) -> None:
    with path.open() as handle:
        assert isinstance(hcl2.load(handle), dict)


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_module_calls_are_wired(folder: Path) -> None:
    """Each call passes every variable without a default, no unknown one, and every
    module.X.Y read in the folder is an output of the module X calls."""
    module = load_module(folder)
    problems = []
    for name, call in module.calls.items():
        target = (folder / call["source"]).resolve()
        if not target.is_dir():
            problems.append(f"module {name}: source {call['source']} is not a folder")
            continue
        called = load_module(target)
        passed = set(call) - META_ARGUMENTS
        for missing in sorted(called.required - passed):
            problems.append(f"module {name}: required variable {missing} not passed")
        for unknown in sorted(passed - set(called.variables)):
            problems.append(f"module {name}: {unknown} is not a variable of {call['source']}")
        for reference, output in MODULE_OUTPUT.findall(module.text):
            if reference == name and output not in called.outputs:
                problems.append(f"module.{name}.{output}: no such output in {call['source']}")
    for reference, _ in MODULE_OUTPUT.findall(module.text):
        if reference not in module.calls:
            problems.append(f"module.{reference} is read but never called")
    assert problems == []


@pytest.mark.parametrize("folder", MODULE_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_variables_are_declared_and_documented(folder: Path) -> None:
    module = load_module(folder)
    undeclared = sorted(set(VARIABLE_USE.findall(module.text)) - set(module.variables))
    assert undeclared == [], f"var.X used but not declared in {folder}"
    undocumented = [
        n for n, s in {**module.variables, **module.outputs}.items() if not s.get("description")
    ]
    assert undocumented == [], f"variables or outputs without a description in {folder}"


def test_reusable_modules_validate_their_inputs() -> None:
    """Inputs a typo would break (ids, regions, CIDRs, URIs, versions) carry validation blocks."""
    for folder, names in {
        "modules/gke": [
            "project_id",
            "region",
            "name",
            "subnet_cidr",
            "master_cidr",
            "cpu_pool",
            "kms_key_name",
        ],
        "modules/platform": ["database_uri", "artifact_root", "pipeline_root", "versions"],
    }.items():
        variables = load_module(TERRAFORM / folder).variables
        assert [n for n in names if not variables[n].get("validation")] == [], folder


def test_env_roots_keep_state_in_gcs_and_read_their_own_overlay() -> None:
    for env in ("dev", "prod"):
        root = load_module(TERRAFORM / "envs" / env)
        with (TERRAFORM / "envs" / env / "backend.tf").open() as handle:
            backend = hcl2.load(handle)["terraform"][0]["backend"][0]
        assert backend["gcs"]["prefix"] == f"kfops/{env}"
        overlay = root.calls["platform"]["kfops_manifests"].replace("${path.root}", str(root.path))
        assert Path(overlay).resolve() == TERRAFORM.parent / "manifests" / "overlays" / env
        for output in ("cluster_endpoint", "kfp_host", "mlflow_uri", "bucket"):
            assert output in root.outputs


def test_terraform_fmt_when_the_binary_is_installed(tmp_path: Path) -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary: formatting is checked where one is installed (CI)")
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "CHECKPOINT_DISABLE": "1"},
    )
    assert proc.returncode == 0, f"terraform fmt would change: {proc.stdout}"


@pytest.mark.slow
def test_checkov_finds_nothing_in_terraform() -> None:
    assert_clean(run_checkov("--directory", "terraform", "--framework", "terraform"))
