"""nginx configured as CloudFront's origin group: the primary region's runtime first, the
secondary's as ``backup``, the request sent on to the backup on a connection error, a timeout
or a 5xx (``proxy_next_upstream error timeout http_500 http_502 http_503 http_504``). Like
CloudFront, every request tries the primary first: ``max_fails=0`` keeps nginx from
remembering that it failed (CloudFront's origin failover is decided per request)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from devsite.processes import free_port, start_process, wait_for_http

__all__ = ["NGINX", "origin_group"]

#: The nginx binary (Debian's package puts it in /usr/sbin), or ``None``.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")

_CONFIG = """\
worker_processes 1;
error_log {work}/error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream origin_group {{
        server {primary} max_fails=0;
        server {secondary} backup;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin_group;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_next_upstream error timeout http_500 http_502 http_503 http_504;
            proxy_next_upstream_tries 2;
            # CloudFront's origin connection timeout and response timeout, shortened.
            proxy_connect_timeout {connect_ms}ms;
            proxy_read_timeout {read_ms}ms;
        }}
    }}
}}
"""


@contextlib.contextmanager
def origin_group(
    primary: str,
    secondary: str,
    work: Path,
    *,
    connect_timeout: float = 1.0,
    read_timeout: float = 2.0,
) -> Iterator[str]:
    """nginx in front of ``primary`` and ``secondary`` (``host:port``); yields its base URL."""
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "nginx.conf"
    config.write_text(
        _CONFIG.format(
            work=work,
            primary=primary,
            secondary=secondary,
            port=port,
            connect_ms=round(connect_timeout * 1000),
            read_ms=round(read_timeout * 1000),
        )
    )
    process = start_process(
        [NGINX, "-p", str(work), "-c", str(config), "-g", "daemon off;"],
        log_path=work / "nginx.out",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/health", timeout=15, proc=process.popen)
        yield base_url
    finally:
        process.stop()
