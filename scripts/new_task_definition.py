"""Turn ``aws ecs describe-task-definition --include TAGS`` output into the input of
``aws ecs register-task-definition --cli-input-json`` with one container's image replaced.

deploy.sh registers each release this way: the new revision is the family's latest one
(Terraform's settings, secrets, roles, volumes) with the image just pushed, nothing else changed.

    python3 scripts/new_task_definition.py described.json runtime IMAGE > register.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: Fields describe-task-definition returns that register-task-definition does not accept.
READ_ONLY_FIELDS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    }
)


def new_revision(described: dict[str, Any], container_name: str, image: str) -> dict[str, Any]:
    """The registration input for a revision of ``described`` running ``image``."""
    definition = {
        key: value
        for key, value in described["taskDefinition"].items()
        if key not in READ_ONLY_FIELDS
    }
    containers = definition.get("containerDefinitions", [])
    matching = [c for c in containers if c.get("name") == container_name]
    if len(matching) != 1:
        names = [c.get("name") for c in containers]
        raise ValueError(f"expected one container named {container_name!r}, found {names}")
    definition["containerDefinitions"] = [
        {**c, "image": image} if c.get("name") == container_name else c for c in containers
    ]
    if described.get("tags"):
        definition["tags"] = described["tags"]
    return definition


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    _, described_path, container_name, image = argv
    with open(described_path, encoding="utf-8") as handle:
        described = json.load(handle)
    try:
        registration = new_revision(described, container_name, image)
    except (KeyError, ValueError) as exc:
        print(f"new_task_definition: {exc}", file=sys.stderr)
        return 1
    json.dump(registration, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
