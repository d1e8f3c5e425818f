"""Create the local stack's demo operator (a superuser) with a generated password, once.

Prints JSON: ``{"username": ..., "password": ...}``, where the password is given only when the
user is created (it is stored hashed, as any Django password); on later runs it is ``null``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the demo operator (superuser) with a generated password (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        password: str | None = None
        if not user_model.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(json.dumps({"username": username, "password": password}))
