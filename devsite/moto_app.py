"""moto's server application (what ``python -m moto.server`` serves), for a WSGI server.

The local stack serves it with gunicorn (one process, so one in-memory state; threads; HTTP
keep-alive) instead of moto's own development server, which closes the connection after every
request and answered about a third fewer requests per second here (benchmarks/README.md).
Real DynamoDB keeps connections alive too, so latencies measured locally are closer to it.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
