"""The ASGI entry point for servers: ``runtime_service.asgi:app``.

Reads the environment once, at import (each server worker imports it once). A bad setting
stops start-up with a message naming the variable, and no traceback.

    uvicorn runtime_service.asgi:app --http runtime_service.server:RuntimeHttpProtocol --host 127.0.0.1 --port 8080
    gunicorn -k runtime_service.server.RuntimeWorker -w 2 -b 0.0.0.0:8000 runtime_service.asgi:app
"""

from __future__ import annotations

import os
import sys

from .app import RuntimeApp, create_app
from .config import load_settings
from .errors import ImproperlyConfigured

__all__ = ["app"]


def _build() -> RuntimeApp:
    try:
        settings = load_settings(os.environ)
    except ImproperlyConfigured as exc:
        print(f"runtime_service: bad configuration: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None
    return create_app(settings, configure_logs=True)


app = _build()
