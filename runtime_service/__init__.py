"""runtime_service: the ASGI redirect runtime of link-tracking.

Serve it with ``uvicorn runtime_service.asgi:app`` (development) or
``gunicorn -k runtime_service.server.RuntimeWorker runtime_service.asgi:app`` (production); build it
in tests and benchmarks with :func:`runtime_service.app.create_app`. Configuration is
declared in :mod:`runtime_service.config` and documented in ``docs/RUNTIME.md``.
"""

from link_tracking_runtime import __version__

__all__ = ["__version__"]
