"""terraform/ read as data (python-hcl2), for checks that need neither Terraform nor AWS.

Strings come back without their quotes and expressions as ``${...}`` strings, so a reference
such as ``aws_kms_key.main.arn`` is found by looking inside the strings of a block.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
ENVIRONMENTS_DIR = TERRAFORM_DIR / "environments"
#: The runtime estate of one region, instantiated by the root module once per region.
REGION_DIR = TERRAFORM_DIR / "modules" / "region"
MODULE_DIRS = (TERRAFORM_DIR, REGION_DIR)

try:  # python-hcl2 >= 8 keeps quotes and comments unless told otherwise
    from hcl2 import SerializationOptions
except ImportError:  # older releases return unquoted strings and no comments already
    _LOAD_OPTIONS: dict[str, Any] = {}
else:
    _LOAD_OPTIONS = {
        "serialization_options": SerializationOptions(
            with_comments=False, strip_string_quotes=True, explicit_blocks=False
        )
    }

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
VAR_REF = re.compile(rf"\bvar\.({_NAME})")
LOCAL_REF = re.compile(rf"\blocal\.({_NAME})")
MODULE_REF = re.compile(rf"\bmodule\.({_NAME})")
DATA_REF = re.compile(rf"\bdata\.({_NAME})\.({_NAME})")
# A managed resource: aws_<type>.<name>, not preceded by a dot (data.aws_x.y, var.aws_region).
RESOURCE_REF = re.compile(rf"(?<![\w.])(aws_[a-z0-9_]+)\.({_NAME})")


def parse(path: Path) -> dict[str, Any]:
    """One .tf or .tfvars file as a dict."""
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle, **_LOAD_OPTIONS)
    return _without_metadata(parsed)


def _without_metadata(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_metadata(item)
            for key, item in value.items()
            if key not in {"__start_line__", "__end_line__"}
        }
    if isinstance(value, list):
        return [_without_metadata(item) for item in value]
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string inside a parsed value (attribute values and expressions alike)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def expression(name: str) -> str:
    """How a bare reference is serialised, e.g. ``${aws_kms_key.main.arn}``."""
    return "${" + name + "}"


@dataclasses.dataclass(frozen=True)
class Configuration:
    """The declarations of one Terraform root module."""

    files: dict[Path, dict[str, Any]]
    #: A view over several modules: a name declared in more than one of them (a variable the
    #: root module passes on to modules/region, each module's `name` local) is the first one's.
    merged: bool = False

    def _labelled(self, kind: str, depth: int) -> dict[tuple[str, ...], dict[str, Any]]:
        found: dict[tuple[str, ...], dict[str, Any]] = {}
        for path, parsed in self.files.items():
            for block in parsed.get(kind, []):
                for labels, body in _unnest(block, depth):
                    if labels in found:
                        if self.merged:
                            continue
                        raise AssertionError(f"{kind} {'.'.join(labels)} declared twice ({path})")
                    found[labels] = body
        return found

    @functools.cached_property
    def resources(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return self._labelled("resource", 2)

    @functools.cached_property
    def data(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return self._labelled("data", 2)

    @functools.cached_property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self._labelled("variable", 1).items()}

    @functools.cached_property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self._labelled("output", 1).items()}

    @functools.cached_property
    def modules(self) -> dict[str, dict[str, Any]]:
        return {labels[0]: body for labels, body in self._labelled("module", 1).items()}

    @functools.cached_property
    def locals(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for path, parsed in self.files.items():
            for block in parsed.get("locals", []):
                for name, value in block.items():
                    if name in found:
                        if self.merged:
                            continue
                        raise AssertionError(f"local.{name} declared twice ({path})")
                    found[name] = value
        return found

    @functools.cached_property
    def providers(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (name, body)
            for parsed in self.files.values()
            for block in parsed.get("provider", [])
            for name, body in block.items()
        ]

    @functools.cached_property
    def terraform_blocks(self) -> list[dict[str, Any]]:
        return [block for parsed in self.files.values() for block in parsed.get("terraform", [])]

    @property
    def directory(self) -> Path:
        """The module's directory (the first one's, for a merged view)."""
        return next(iter(self.files)).parent

    def origins(self, distribution: str = "runtime") -> list[dict[str, Any]]:
        """The origins of a CloudFront distribution, declared as blocks or as a dynamic block
        (one origin per region)."""
        body = self.resource("aws_cloudfront_distribution", distribution)
        if "origin" in body:
            return list(body["origin"])
        return [
            block["origin"]["content"][0] for block in body.get("dynamic", []) if "origin" in block
        ]

    def resource(self, resource_type: str, name: str) -> dict[str, Any]:
        try:
            return self.resources[(resource_type, name)]
        except KeyError:
            raise AssertionError(f"terraform/ declares no {resource_type}.{name}") from None

    def data_source(self, data_type: str, name: str) -> dict[str, Any]:
        try:
            return self.data[(data_type, name)]
        except KeyError:
            raise AssertionError(f"terraform/ declares no data.{data_type}.{name}") from None

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: body for (kind, name), body in self.resources.items() if kind == resource_type
        }

    def all_blocks(self) -> Iterator[tuple[str, Any]]:
        """(description, body) of every declaration, for reference scanning. `moved` blocks are
        left out: they name the addresses resources had before they moved into a module."""
        for parsed_path, parsed in self.files.items():
            for kind, blocks in parsed.items():
                if kind == "moved":
                    continue
                for block in blocks:
                    yield f"{parsed_path.name}: {kind}", block

    def local_literal(self, name: str) -> Any:
        """The value of a local that is a literal (not an expression)."""
        value = self.locals[name]
        if isinstance(value, str) and "${" in value:
            raise AssertionError(f"local.{name} is an expression, not a literal: {value}")
        return value

    def substitute_locals(self, text: str) -> str:
        """``text`` with each ``${local.X}`` whose value is a literal string replaced by it."""

        def replace(match: re.Match[str]) -> str:
            value = self.locals.get(match.group(1))
            if isinstance(value, str) and "${" not in value:
                return value
            return match.group(0)

        return re.sub(rf"\$\{{local\.({_NAME})\}}", replace, text)


def _unnest(block: dict[str, Any], depth: int) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if depth == 0:
        yield (), block
        return
    for label, inner in block.items():
        for labels, body in _unnest(inner, depth - 1):
            yield (label, *labels), body


@functools.cache
def load(directory: Path = TERRAFORM_DIR) -> Configuration:
    """Every ``*.tf`` file of a root module (not its subdirectories, as Terraform does)."""
    paths = sorted(directory.glob("*.tf"))
    if not paths:
        raise AssertionError(f"no .tf files in {directory}")
    return Configuration({path: parse(path) for path in paths})


@functools.cache
def estate() -> Configuration:
    """The root module and modules/region read as one: what the estate declares, wherever."""
    return Configuration({**load(TERRAFORM_DIR).files, **load(REGION_DIR).files}, merged=True)


def var_files() -> dict[str, dict[str, Any]]:
    """The environments' variable files by environment name (``dev``, ``prod``)."""
    return {
        path.name.removesuffix(".tfvars"): parse(path)
        for path in sorted(ENVIRONMENTS_DIR.glob("*.tfvars"))
    }
