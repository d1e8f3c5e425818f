"""terraform/ parses, and every name it references is declared (what `terraform validate` would
catch first, checked without Terraform)."""

from __future__ import annotations

import re

import pytest

from . import terraform_config as tf
from .terraform_config import (
    DATA_REF,
    LOCAL_REF,
    MODULE_REF,
    RESOURCE_REF,
    TERRAFORM_DIR,
    VAR_REF,
)


@pytest.fixture(
    scope="module", params=tf.MODULE_DIRS, ids=lambda path: path.relative_to(TERRAFORM_DIR.parent)
)
def config(request) -> tf.Configuration:
    """Each module on its own: the root module and modules/region."""
    return tf.load(request.param)


def _references(config: tf.Configuration, pattern: re.Pattern[str]) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    for where, body in config.all_blocks():
        for text in tf.strings(body):
            for match in pattern.finditer(text):
                found.setdefault(match.groups(), where)
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in TERRAFORM_DIR.rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_every_file_parses(path):
    # .tf, .tfvars, backend files and terraform test files are all HCL.
    assert isinstance(tf.parse(path), dict)


def test_the_module_declares_the_estate(config):
    # A guard for the other tests: an empty or half-read module would make them pass vacuously.
    assert len(tf.estate().resources) > 90
    assert len(config.resources) > 20
    assert len(config.variables) > 20
    assert config.locals and config.outputs


def test_every_var_reference_is_declared(config):
    missing = {
        name: where
        for (name,), where in _references(config, VAR_REF).items()
        if name not in config.variables
    }
    assert not missing, f"undeclared variables: {missing}"


def test_every_local_reference_is_declared(config):
    missing = {
        name: where
        for (name,), where in _references(config, LOCAL_REF).items()
        if name not in config.locals
    }
    assert not missing, f"undeclared locals: {missing}"


def test_every_module_reference_is_declared(config):
    missing = {
        name: where
        for (name,), where in _references(config, MODULE_REF).items()
        if name not in config.modules
    }
    assert not missing, f"undeclared modules: {missing}"


def test_every_data_reference_is_declared(config):
    missing = {
        ".".join(key): where
        for key, where in _references(config, DATA_REF).items()
        if key not in config.data
    }
    assert not missing, f"undeclared data sources: {missing}"


def test_every_resource_reference_is_declared(config):
    missing = {
        ".".join(key): where
        for key, where in _references(config, RESOURCE_REF).items()
        if key not in config.resources
    }
    assert not missing, f"undeclared resources: {missing}"


def test_every_provider_alias_used_is_declared(config):
    declared = {
        body["alias"] for name, body in config.providers if name == "aws" and "alias" in body
    }
    used = {
        re.fullmatch(r"\$\{aws\.(\w+)\}", body["provider"]).group(1)
        for body in [*config.resources.values(), *config.data.values()]
        if "provider" in body
    }
    if config.directory == TERRAFORM_DIR:  # a child module is given its providers
        assert used, "the us-east-1 resources must name their provider"
    assert used <= declared, f"undeclared provider aliases: {used - declared}"


def test_every_declared_variable_is_used(config):
    used = {name for (name,) in _references(config, VAR_REF)}
    unused = set(config.variables) - used
    assert not unused, f"variables declared but never used: {sorted(unused)}"


def test_every_declared_local_is_used(config):
    used = {name for (name,) in _references(config, LOCAL_REF)}
    unused = set(config.locals) - used
    assert not unused, f"locals declared but never used: {sorted(unused)}"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_var_files_set_only_declared_variables_and_every_required_one(config, environment):
    if config.directory != TERRAFORM_DIR:
        pytest.skip("the environments' var files are the root module's")
    var_files = tf.var_files()
    assert environment in var_files, f"terraform/environments/{environment}.tfvars is missing"
    values = var_files[environment]
    undeclared = set(values) - set(config.variables)
    assert not undeclared, f"{environment}.tfvars sets undeclared variables: {sorted(undeclared)}"
    required = {name for name, body in config.variables.items() if "default" not in body}
    unset = required - set(values)
    assert not unset, f"{environment}.tfvars leaves required variables unset: {sorted(unset)}"
    assert values["environment"] == environment
