#!/usr/bin/env python
"""Django's command-line utility for the development/demo project."""

import os
import sys
from pathlib import Path


def read_stack_env() -> None:
    """While ``make dev`` runs, it writes ``stack.env`` (the local AWS endpoint, table name and
    credentials) into its state folder, so commands run beside it reach the same emulator as
    well as the same database. The environment wins over the file."""
    var_dir = os.environ.get("LINK_TRACKING_VAR_DIR") or Path(__file__).parent / "var" / "dev"
    stack_env = Path(var_dir) / "stack.env"
    if stack_env.is_file():
        for line in stack_env.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                os.environ.setdefault(name.strip(), value.strip())


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devsite.settings")
    read_stack_env()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
