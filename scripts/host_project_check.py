"""The app as a user installs it: a wheel in a Django project we did not write.

Builds the sdist and, from it, the wheel (or takes ``--wheel``), then for each leg, a Python
and the Django series pip must choose for it (``make test-host``: 3.11 with 5.2, 3.13 with
6.1), in a scratch folder:

1. a fresh virtualenv with ``pip install "<wheel>[publisher]"``, resolved from the package
   index as a user's would be (not from our lock), checked for the Django series expected;
2. ``django-admin startproject hostsite`` and a host app ``crm`` with its own ``Account`` and
   ``Campaign``; the settings, URLs and Celery blocks of ``docs/INTEGRATION.md`` (those marked
   ``host-project-check``) appended as written;
3. ``check``, ``check --deploy`` on production-like settings (Django's deployment checklist)
   failing on any warning, ``migrate``, ``makemigrations --check``;
4. real processes: a moto server, Redis (the distribution's ``redis-server``), a Celery
   worker, ``runserver``; ``setup_dynamodb``; a domain, campaign and link created over HTTP
   with an API token; the domain verified by hand; the worker publishes the link; with Redis
   stopped a new link is answered and kept, and the outbox sweeper sends it once Redis is back;
5. the runtime from the wheel's ``runtime`` extra in its own virtualenv, where Django cannot be
   imported, redirects the link (``Host`` header, ``AWS_DEFAULT_REGION`` only);
6. the click ingested with ``ingest_click_events`` and seen in the link's statistics; the
   admin login page, the schema and the interactive API page (its assets local) answer 200.

Each step prints ``ok`` with its time, or ``FAIL`` with what it saw, and the script exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "INTEGRATION.md"
MARKER = re.compile(
    r"<!-- host-project-check: (?P<file>[\w/.]+) -->\n```python\n(?P<code>.*?)```", re.S
)
DOMAIN = "go.host-check.test"

CRM_MODELS = """\
from django.db import models


class Account(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name
"""

PRODUCTION_SETTINGS = """\
from .settings import *  # noqa: F403

# Django's deployment checklist.
DEBUG = False
SECRET_KEY = "{secret_key}"
ALLOWED_HOSTS = ["links.example.com"]
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STATIC_ROOT = BASE_DIR / "static"  # noqa: F405
# A real mail backend: Django 6.1's generated settings name the console one in MAILERS.
if "MAILERS" in globals():
    MAILERS = {{"default": {{"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}}}
"""


class CheckFailed(Exception):
    pass


class Host:
    """The scratch folder, the virtualenvs and the processes of one run."""

    def __init__(self, work: Path, python: str, wheel: Path, django_series: str) -> None:
        self.work = work
        self.python = python
        self.wheel = wheel
        self.django_series = django_series
        self.venv = work / "host-venv"
        self.runtime_venv = work / "runtime-venv"
        self.project = work / "project"
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.redis: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV"))},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LINK_RUNTIME_TABLE_NAME": "host-check-runtime",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        self.env.pop("AWS_REGION", None)
        self.env.pop("PYTHONPATH", None)

    # -- running things --------------------------------------------------------------------

    def run(
        self,
        *args: str | Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 600,
    ) -> str:
        command = [str(a) for a in args]
        result = subprocess.run(
            command,
            cwd=cwd or self.project,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise CheckFailed(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-3000:]}"
                f"{result.stderr[-3000:]}"
            )
        return result.stdout + result.stderr

    def manage(self, *args: str, settings: str = "hostsite.settings", timeout: float = 300) -> str:
        env = {**self.env, "DJANGO_SETTINGS_MODULE": settings}
        return self.run(self.venv / "bin" / "python", "manage.py", *args, env=env, timeout=timeout)

    def start(
        self,
        name: str,
        *args: str | Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd or self.project,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 15)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait()

    def log_tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], host: Host, name: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"{name} exited {process.returncode}:\n{host.log_tail(name)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise CheckFailed(
        f"{name} did not listen on {port} within {timeout:.0f} s:\n{host.log_tail(name)}"
    )


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    expect: int | tuple[int, ...] = 200,
) -> tuple[int, Message, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(request, timeout=30) as response:
            status, answer_headers, content = (
                response.status,
                response.headers,
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        status, answer_headers, content = exc.code, exc.headers, exc.read()
    wanted = (expect,) if isinstance(expect, int) else expect
    if status not in wanted:
        raise CheckFailed(f"{method} {url} answered {status}, not {wanted}: {content[:2000]!r}")
    return status, answer_headers, content


# -- the steps ---------------------------------------------------------------------------


def guide_blocks() -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for match in MARKER.finditer(GUIDE.read_text()):
        blocks.setdefault(match["file"], []).append(match["code"])
    if "hostsite/settings.py" not in blocks:
        raise CheckFailed(f"{GUIDE} has no settings block marked host-project-check")
    return blocks


def guide_install_command(wheel: Path) -> list[str]:
    """The guide's ``pip install`` line, with the wheel in place of the package's name."""
    match = re.search(
        r"<!-- host-project-check: pip install -->\n```sh\n(?P<line>.*?)\n```", GUIDE.read_text()
    )
    if match is None:
        raise CheckFailed(f"{GUIDE} has no pip install line marked host-project-check")
    words = shlex.split(match["line"])
    if words[:2] != ["pip", "install"] or not words[2].startswith("link-tracking["):
        raise CheckFailed(
            f"the guide's install line is not pip install link-tracking[...]: {words}"
        )
    return [str(wheel) + words[2].removeprefix("link-tracking"), *words[3:]]


def install_publisher(host: Host) -> None:
    host.run(host.python, "-m", "venv", host.venv, cwd=host.work)
    requirements = guide_install_command(host.wheel)
    print(f"       pip install {' '.join(requirements)}")
    host.run(
        host.venv / "bin" / "pip", "install", "--quiet", *requirements, cwd=host.work, timeout=900
    )
    version = host.run(
        host.venv / "bin" / "python",
        "-c",
        "import django; print(django.get_version())",
        cwd=host.work,
    ).strip()
    if not version.startswith(host.django_series + ".") and version != host.django_series:
        raise CheckFailed(f"pip chose Django {version}, not the {host.django_series} series")
    print(
        f"       Django {version} on {host.run(host.venv / 'bin' / 'python', '-V', cwd=host.work).strip()}"
    )


def make_project(host: Host) -> None:
    host.project.mkdir()
    host.run(host.venv / "bin" / "django-admin", "startproject", "hostsite", ".", cwd=host.project)
    host.run(host.venv / "bin" / "python", "manage.py", "startapp", "crm")
    (host.project / "crm" / "models.py").write_text(CRM_MODELS)
    settings = host.project / "hostsite" / "settings.py"
    text, found = re.subn(
        r"""(["']django\.contrib\.staticfiles["'],)""", r'\1\n    "crm",', settings.read_text()
    )
    if found != 1:
        raise CheckFailed(f"no django.contrib.staticfiles in the generated {settings}")
    settings.write_text(text)
    for name, codes in guide_blocks().items():
        path = host.project / name
        existing = path.read_text() if path.exists() else ""
        path.write_text(existing + "\n\n# From docs/INTEGRATION.md\n" + "\n".join(codes))
    (host.project / "hostsite" / "settings_production.py").write_text(
        PRODUCTION_SETTINGS.format(secret_key=secrets.token_urlsafe(50))
    )


def check(host: Host) -> None:
    out = host.manage("check", "--fail-level", "WARNING")
    if "no issues" not in out:
        raise CheckFailed(out)


def check_broken_setting(host: Host) -> None:
    (host.project / "hostsite" / "settings_broken.py").write_text(
        'from .settings import *  # noqa: F403\n\nLINK_TRACKING_CRM_CAMPAIGN_MODEL = "crm.Missing"\n'
    )
    env = {**host.env, "DJANGO_SETTINGS_MODULE": "hostsite.settings_broken"}
    for command in ("check", "migrate"):
        result = subprocess.run(
            [str(host.venv / "bin" / "python"), "manage.py", command],
            cwd=host.project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        out = result.stdout + result.stderr
        if result.returncode == 0 or "Traceback" in out or "link_tracking.E008" not in out:
            raise CheckFailed(f"manage.py {command} with a model setting naming nothing:\n{out}")
    print("       " + next(line for line in out.splitlines() if "E008" in line).strip())


def check_deploy(host: Host) -> None:
    out = host.manage(
        "check", "--deploy", "--fail-level", "WARNING", settings="hostsite.settings_production"
    )
    if "no issues" not in out:
        raise CheckFailed(out)


def migrate(host: Host) -> None:
    host.manage("makemigrations", "crm")
    host.manage("migrate", "--no-input")
    host.manage("makemigrations", "--check", "--dry-run")


def start_redis(host: Host, port: int) -> subprocess.Popen[bytes]:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise CheckFailed("redis-server is not installed: apt-get install redis-server")
    return host.start(
        "redis",
        redis_server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        cwd=host.work,
    )


def start_services(host: Host) -> dict[str, int]:
    ports = {"moto": free_port(), "redis": free_port(), "web": free_port(), "runtime": free_port()}
    moto = host.start(
        "moto",
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        str(ports["moto"]),
        cwd=host.work,
    )
    redis = start_redis(host, ports["redis"])
    wait_for_port(ports["moto"], moto, host, "moto")
    wait_for_port(ports["redis"], redis, host, "redis")
    host.redis = redis
    host.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{ports['moto']}"
    host.env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{ports['redis']}/0"
    host.env["LINK_TRACKING_CLICK_EVENTS_SOURCE"] = str(host.work / "click-events.ndjson")
    return ports


def setup_dynamodb(host: Host) -> None:
    host.manage("setup_dynamodb", "--wait-timeout", "60")


def start_control_plane(host: Host, ports: dict[str, int]) -> None:
    env = {**host.env, "DJANGO_SETTINGS_MODULE": "hostsite.settings"}
    python = host.venv / "bin" / "python"
    host.start(
        "worker",
        python,
        "-m",
        "celery",
        "-A",
        "hostsite",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        env=env,
    )
    web = host.start(
        "web", python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{ports['web']}", env=env
    )
    wait_for_port(ports["web"], web, host, "web")


def api_credentials(host: Host) -> dict[str, str]:
    host.run(
        host.venv / "bin" / "python",
        "manage.py",
        "shell",
        "-c",
        """
from django.contrib.auth.models import Group, Permission, User
from crm.models import Account
group, _ = Group.objects.get_or_create(name='link-api')
group.permissions.set(Permission.objects.filter(content_type__app_label='link_tracking',
    codename__in=['add_domain', 'change_domain', 'add_linkcampaign', 'change_linkcampaign',
                  'add_link', 'change_link']))
user, _ = User.objects.get_or_create(username='sms-app', defaults={'is_staff': True})
user.groups.add(group)
User.objects.filter(username='admin').exists() or User.objects.create_superuser('admin', 'admin@example.com', 'host-check-password')
Account.objects.get_or_create(name='Acme')
""",
        env={**host.env, "DJANGO_SETTINGS_MODULE": "hostsite.settings"},
    )
    out = host.manage("drf_create_token", "sms-app")
    match = re.search(r"\b([0-9a-f]{40})\b", out)
    if match is None:
        raise CheckFailed(f"no token in {out!r}")
    account = host.manage(
        "shell", "-c", "from crm.models import Account; print(Account.objects.get(name='Acme').pk)"
    )
    return {"token": match[1], "account": account.strip().splitlines()[-1]}


def create_over_http(
    host: Host, ports: dict[str, int], credentials: dict[str, str]
) -> dict[str, Any]:
    api = f"http://127.0.0.1:{ports['web']}/api/link_tracking"
    auth = {"Authorization": f"Token {credentials['token']}"}
    account = credentials["account"]
    _, _, body = http(
        "POST",
        f"{api}/domains/",
        headers=auth,
        expect=201,
        body={"account": account, "domain_name": DOMAIN, "purpose": "sms"},
    )
    domain = json.loads(body)
    _, _, body = http(
        "POST",
        f"{api}/campaigns/",
        headers=auth,
        expect=201,
        body={
            "account": account,
            "campaign_id": "SPRING26",
            "name": "Spring sale",
            "utm_template": {"utm_source": "sms", "utm_campaign": "${campaign_id}"},
        },
    )
    campaign = json.loads(body)
    _, _, body = http(
        "POST",
        f"{api}/links/",
        headers=auth,
        expect=201,
        body={
            "account": account,
            "domain": domain["id"],
            "campaign": campaign["id"],
            "destination_url": "https://shop.example.com/spring",
            "channel": "sms",
            "dynamic_param_allowlist": ["click_id", "sms_msg_id"],
            "reason": "host-project check",
        },
    )
    link = json.loads(body)
    status = wait_for_status(f"{api}/links/{link['id']}/", auth, {"pending", "processing"})
    if status != "waiting_for_domain":
        raise CheckFailed(f"a link on an unverified domain reads publish_status {status!r}")
    return {"api": api, "auth": auth, "link": link}


def wait_for_status(url: str, auth: dict[str, str], passing: set[str], timeout: float = 60) -> str:
    """The link's publish_status once the worker has moved it past ``passing``."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        _, _, body = http("GET", url, headers=auth)
        status = json.loads(body)["publish_status"]
        if status not in passing:
            break
        time.sleep(0.3)
    return status


def verify_and_publish(host: Host, created: dict[str, Any]) -> None:
    host.manage("verify_domain", DOMAIN, "--by-hand", "--by", "admin")
    url = f"{created['api']}/links/{created['link']['id']}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, _, body = http("GET", url, headers=created["auth"])
        link = json.loads(body)
        if link["publish_status"] == "complete" and link["published_version"]:
            created["link"] = link
            return
        time.sleep(0.5)
    raise CheckFailed(f"the worker did not publish the link: {link}\n{host.log_tail('worker')}")


def broker_down(host: Host, ports: dict[str, int], created: dict[str, Any]) -> None:
    """With Redis stopped, a link created over HTTP is answered (201) and kept in the outbox;
    once Redis is back, the outbox sweeper sends it and the worker publishes it."""
    assert host.redis is not None
    os.killpg(host.redis.pid, 9)
    host.redis.wait()
    account = created["link"]["account"]
    started = time.monotonic()
    _, _, body = http(
        "POST",
        f"{created['api']}/links/",
        headers=created["auth"],
        expect=201,
        body={
            "account": account,
            "domain": created["link"]["domain"],
            "destination_url": "https://shop.example.com/while-the-broker-was-down",
            "channel": "sms",
        },
    )
    link = json.loads(body)
    print(f"       answered 201 in {time.monotonic() - started:.1f} s with Redis down")
    url = f"{created['api']}/links/{link['id']}/"
    _, _, body = http("GET", url, headers=created["auth"])
    if json.loads(body)["publish_status"] != "pending":
        raise CheckFailed(f"with the broker down the link reads {json.loads(body)}")
    wait_for_port(ports["redis"], start_redis(host, ports["redis"]), host, "redis")
    # The sweeper of the beat schedule, run once, with its "stuck after" threshold at one second
    # instead of five minutes so the check need not wait.
    time.sleep(1.5)
    (host.project / "hostsite" / "settings_sweep.py").write_text(
        "from .settings import *  # noqa: F403\n\n"
        'LINK_TRACKING = {**LINK_TRACKING, "OUTBOX_STUCK_AFTER_SECONDS": 1}  # noqa: F405\n'
    )
    out = host.manage(
        "shell",
        "-c",
        "from link_tracking_publisher.tasks.publisher_tasks import retry_pending_outbox; "
        "print('sent', retry_pending_outbox())",
        settings="hostsite.settings_sweep",
    )
    if "sent 1" not in out:
        raise CheckFailed(f"the outbox sweeper sent nothing: {out}")
    status = wait_for_status(url, created["auth"], {"pending", "processing"})
    if status != "complete":
        raise CheckFailed(f"after the sweep the link reads {status!r}:\n{host.log_tail('worker')}")


def install_runtime(host: Host) -> None:
    host.run(host.python, "-m", "venv", host.runtime_venv, cwd=host.work)
    host.run(
        host.runtime_venv / "bin" / "pip",
        "install",
        "--quiet",
        f"{host.wheel}[runtime]",
        cwd=host.work,
        timeout=900,
    )
    probe = subprocess.run(
        [str(host.runtime_venv / "bin" / "python"), "-c", "import django"],
        capture_output=True,
        cwd=host.work,
        check=False,
    )
    if probe.returncode == 0:
        raise CheckFailed("the runtime extra installed Django")


def redirect(host: Host, ports: dict[str, int], created: dict[str, Any]) -> None:
    env = {
        **host.env,
        "ENVIRONMENT": "development",
        "DYNAMODB_TABLE_NAME": host.env["LINK_RUNTIME_TABLE_NAME"],
        "CLICK_EVENTS_FILE": host.env["LINK_TRACKING_CLICK_EVENTS_SOURCE"],
        "EVENT_FLUSH_INTERVAL_SECONDS": "0.2",
    }
    runtime = host.start(
        "runtime",
        host.runtime_venv / "bin" / "uvicorn",
        "runtime_service.asgi:app",
        "--http",
        "runtime_service.server:RuntimeHttpProtocol",
        "--host",
        "127.0.0.1",
        "--port",
        str(ports["runtime"]),
        cwd=host.work,
        env=env,
    )
    wait_for_port(ports["runtime"], runtime, host, "runtime")
    slug = created["link"]["slug"]
    _, headers, _ = http(
        "GET",
        f"http://127.0.0.1:{ports['runtime']}/{slug}?sms_msg_id=42",
        headers={
            "Host": DOMAIN,
            "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
        },
        expect=302,
    )
    location = headers.get("Location", "")
    if (
        not location.startswith("https://shop.example.com/spring?")
        or "sms_msg_id=42" not in location
    ):
        raise CheckFailed(f"redirected to {location!r}")
    print(f"       {DOMAIN}/{slug} -> {location}")
    events = Path(env["CLICK_EVENTS_FILE"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if events.exists() and events.read_bytes().endswith(b"\n"):
            return
        time.sleep(0.2)
    raise CheckFailed(f"no click event in {events}:\n{host.log_tail('runtime')}")


def ingest_and_stats(host: Host, created: dict[str, Any]) -> None:
    out = host.manage(
        "ingest_click_events", "--source", host.env["LINK_TRACKING_CLICK_EVENTS_SOURCE"], "--json"
    )
    report = json.loads(out.strip().splitlines()[-1])
    if report.get("counted") != 1:
        raise CheckFailed(f"ingest_click_events: {report}")
    _, _, body = http(
        "GET", f"{created['api']}/links/{created['link']['id']}/stats/", headers=created["auth"]
    )
    stats = json.loads(body)
    if (stats.get("clicks"), stats.get("human_clicks")) != (1, 1):
        raise CheckFailed(f"the link's statistics do not show the click: {stats}")


def pages(host: Host, ports: dict[str, int], created: dict[str, Any]) -> None:
    base = f"http://127.0.0.1:{ports['web']}"
    http("GET", f"{base}/admin/login/")
    _, headers, body = http("GET", f"{created['api']}/schema/", headers=created["auth"])
    if b"openapi" not in body[:200]:
        raise CheckFailed(f"the schema is not OpenAPI: {body[:200]!r}")
    _, _, page = http("GET", f"{created['api']}/schema/swagger-ui/", headers=created["auth"])
    assets = re.findall(rb'(?:src|href)="([^"]*swagger-ui[^"]*\.(?:js|css))"', page)
    if not assets or any(a.startswith((b"http:", b"https:", b"//")) for a in assets):
        raise CheckFailed(f"the API page's assets are not local: {assets}")
    for asset in assets:
        http("GET", base + asset.decode())


STEPS = [
    (
        "the guide's pip install, the wheel for link-tracking, in a fresh virtualenv",
        install_publisher,
    ),
    ("django-admin startproject, a crm app, docs/INTEGRATION.md's blocks", make_project),
    ("manage.py check", check),
    (
        "check and migrate with a model setting naming nothing: E008, no traceback",
        check_broken_setting,
    ),
    ("manage.py check --deploy (production-like settings, warnings fail)", check_deploy),
    ("manage.py migrate, makemigrations --check", migrate),
]


def find_python(version: str) -> str:
    """An interpreter of ``version`` (e.g. ``3.13``): the distribution's, then PATH's, then
    pyenv's; a path is taken as it is."""
    if "/" in version:
        return version
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        Path(f"/usr/bin/python{version}"),
        *(Path(p) for p in filter(None, [shutil.which(f"python{version}")])),
        *sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True),
    ]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        probe = subprocess.run(
            [str(candidate), "-c", "import sys, venv, ensurepip; print(sys.version)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return str(candidate)
    raise CheckFailed(
        f"no Python {version} with venv and ensurepip (looked in /usr/bin, PATH and "
        f"{pyenv_root}/versions): install it, or name one with --leg PATH:DJANGO"
    )


def build(out: Path) -> Path:
    """The sdist, and the wheel built from it (as pip builds one from PyPI's sdist); the wheel."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise CheckFailed("uv is not installed (make install puts it in .venv)")
    subprocess.run([uv, "build", "--quiet", "--out-dir", str(out)], cwd=ROOT, check=True)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    # The package index's own check of the metadata and the long description.
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    if twine.returncode != 0:
        raise CheckFailed(f"twine check --strict:\n{twine.stdout}{twine.stderr}")
    print(f"built {sdist.name} and, from it, {wheel.name}; twine check --strict passed")
    return wheel


def run_leg(work: Path, python: str, django_series: str, wheel: Path) -> bool:
    host = Host(work, python, wheel, django_series)
    print(f"\n== host-project check: Python {python}, Django {django_series}, in {work}")
    state: dict[str, Any] = {}

    def step(name: str, call: Any) -> Any:
        started = time.monotonic()
        try:
            result = call()
        except (CheckFailed, subprocess.TimeoutExpired) as exc:
            print(f"FAIL   {name}:\n{exc}")
            raise
        print(f"ok     {name} ({time.monotonic() - started:.1f} s)", flush=True)
        return result

    try:
        for name, call in STEPS:
            step(name, lambda call=call: call(host))
        ports = step("moto server and redis-server started", lambda: start_services(host))
        step("manage.py setup_dynamodb against moto", lambda: setup_dynamodb(host))
        step(
            "celery worker (Redis broker) and runserver started",
            lambda: start_control_plane(host, ports),
        )
        state["credentials"] = step(
            "an API user with a token (drf_create_token)", lambda: api_credentials(host)
        )
        state["created"] = step(
            "domain, campaign and link created over HTTP with the token; the link waits for its domain",
            lambda: create_over_http(host, ports, state["credentials"]),
        )
        step(
            "manage.py verify_domain --by-hand; the worker publishes the link",
            lambda: verify_and_publish(host, state["created"]),
        )
        step(
            "Redis stopped: a link created over HTTP is kept; Redis back: the sweeper sends it",
            lambda: broker_down(host, ports, state["created"]),
        )
        step(
            "pip install <wheel>[runtime] in its own virtualenv, without Django",
            lambda: install_runtime(host),
        )
        step(
            "the runtime redirects the link (Host header, AWS_DEFAULT_REGION) and writes its click",
            lambda: redirect(host, ports, state["created"]),
        )
        step(
            "manage.py ingest_click_events; the link's stats show the click",
            lambda: ingest_and_stats(host, state["created"]),
        )
        step(
            "admin login page, schema, interactive API page and its local assets answer 200",
            lambda: pages(host, ports, state["created"]),
        )
    except (CheckFailed, subprocess.TimeoutExpired):
        print(f"host-project check failed: Django {django_series} on {python}; logs in {host.logs}")
        return False
    finally:
        host.stop_all()
    print(f"host-project check passed: Django {django_series} on {python}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--leg",
        action="append",
        required=True,
        metavar="PYTHON:DJANGO",
        help="A Python version (or an interpreter's path) and the Django series pip must choose "
        "for it, e.g. 3.11:5.2; repeat for each leg.",
    )
    parser.add_argument("--wheel", type=Path, help="The wheel to install (default: build one).")
    parser.add_argument(
        "--work", type=Path, help="Scratch folder, kept (default: a temporary one)."
    )
    args = parser.parse_args(argv)
    work = (args.work or Path(tempfile.mkdtemp(prefix="host-project-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        legs = []
        for leg in args.leg:
            version, _, django_series = leg.rpartition(":")
            if not version or not django_series:
                parser.error(f"--leg {leg!r}: give PYTHON:DJANGO, e.g. 3.11:5.2")
            legs.append((find_python(version), django_series))
        wheel = args.wheel.resolve() if args.wheel else build(work / "dist")
    except (CheckFailed, subprocess.CalledProcessError) as exc:
        print(f"host-project check: {exc}")
        return 1
    results = [
        run_leg(work / f"leg-{index}", python, series, wheel)
        for index, (python, series) in enumerate(legs)
    ]
    if all(results) and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
