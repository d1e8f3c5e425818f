"""Terraform itself on terraform/, where it can run without a network: `fmt` needs only the
binary; `validate` and `terraform test` (mocked AWS provider, see terraform/tests/) need the
AWS provider from a local plugin directory, since no registry is reachable here. Skipped when
either is missing; the static checks in this directory do not depend on them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .terraform_config import TERRAFORM_DIR

TERRAFORM = shutil.which("terraform")
PLUGIN_DIR = Path(os.environ.get("TERRAFORM_PLUGIN_DIR", "/opt/tf-plugins"))

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    env = {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",  # no version check over the network
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    return subprocess.run(
        [TERRAFORM, *args, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@needs_terraform
def test_terraform_files_are_formatted():
    result = _run("fmt", "-check", "-recursive", "-diff", cwd=TERRAFORM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    if TERRAFORM is None:
        pytest.skip("terraform is not on PATH")
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local AWS provider in {PLUGIN_DIR} (set TERRAFORM_PLUGIN_DIR)")
    workdir = tmp_path_factory.mktemp("terraform") / "terraform"
    shutil.copytree(TERRAFORM_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*"))
    result = _run("init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def test_terraform_validate(initialised):
    result = _run("validate", cwd=initialised)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_estate_renders_with_mocked_aws(initialised, environment):
    result = _run(
        "test",
        "-filter=tests/estate.tftest.hcl",
        f"-var-file=environments/{environment}.tfvars",
        cwd=initialised,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_two_regions_render_and_bad_regions_are_refused(initialised, environment):
    # tests/regions.tftest.hcl: the global table's replica, the origin group and its failover
    # codes, every per-region resource in both regions; and the plan-time refusals.
    result = _run(
        "test",
        "-filter=tests/regions.tftest.hcl",
        f"-var-file=environments/{environment}.tfvars",
        cwd=initialised,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert 'run "refuses_an_origin_group_of_one_origin"... pass' in result.stdout


def test_variable_validations_refuse_bad_input(initialised):
    result = _run(
        "test",
        "-filter=tests/validation.tftest.hcl",
        "-var-file=environments/dev.tfvars",
        cwd=initialised,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
