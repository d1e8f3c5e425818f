"""End to end: moto server, records written with the contract, the runtime as a real uvicorn
process, links followed over real HTTP, click events read back from Firehose's S3 bucket."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devsite.processes import free_port, runtime_command, start_process, wait_for_http
from link_tracking_runtime import Keyring, RuntimeRecord, SigningKey, sign_url
from link_tracking_runtime.events import decode_event
from tests.support.stack import LocalAws, RuntimeProcess, runtime_env, start_runtime

pytestmark = pytest.mark.e2e

HOST = "go.example.com"
FALLBACK = "https://www.example.com/link-unavailable"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
WHATSAPP = "WhatsApp/2.24.6.77 A"
SECRET = "e2e-signing-secret-0123456789abcdef"


def _record(slug: str, **fields: object) -> RuntimeRecord:
    values: dict[str, object] = {
        "domain": HOST,
        "slug": slug,
        "link_id": f"link-{slug.lower()}",
        "destination_url": f"https://shop.example.com/{slug.lower()}",
        "fallback_url": f"https://{HOST}/disabled",
        "active": True,
        "runtime_version": 1,
        "campaign_id": "SPRING26",
        "channel": "sms",
    }
    values.update(fields)
    return RuntimeRecord(**values)  # type: ignore[arg-type]


def _get(client: httpx.Client, path: str, user_agent: str = PHONE) -> httpx.Response:
    return client.get(path, headers={"host": HOST, "user-agent": user_agent})


def _stop_gracefully(runtime: RuntimeProcess) -> None:
    # uvicorn re-raises SIGTERM after a graceful shutdown, so the exit status is -15.
    assert runtime.stop() in (0, -signal.SIGTERM)
    assert '"message":"runtime stopped"' in runtime.output()


def test_links_redirect_and_every_click_reaches_firehose(
    local_aws: LocalAws, var_dir: Path, tmp_path: Path
) -> None:
    table = local_aws.create_table()
    stream, bucket = local_aws.create_stream()
    secret_id = local_aws.create_keyring_secret(
        "link-signatures/e2e", {"current": {"kid": "k1", "secret": SECRET}}
    )
    local_aws.publish(
        table,
        [
            _record(
                "ABC123",
                resolved_query_params={"utm_source": "sms"},
                dynamic_param_allowlist=("click_id", "sms_msg_id"),
            ),
            _record("OFF", active=False, fallback_url="https://shop.example.com/ended"),
            _record("LIMITED", max_clicks=2),
            _record("SIGNED", signature_required=True, signature_key_id=secret_id),
            _record(
                "GEO",
                routing_rules={
                    "type": "geo",
                    "de": "https://de.example.com/",
                    "default": "https://world.example.com/",
                },
            ),
            _record(
                "LANG",
                routing_rules={
                    "type": "language",
                    "fr": "https://fr.example.com/",
                    "fr-CA": "https://qc.example.com/",
                    "default": "https://en.example.com/",
                },
            ),
        ],
    )
    env = runtime_env(local_aws, table_name=table.name, stream_name=stream, var_dir=var_dir)
    keyring = Keyring(SigningKey("k1", SECRET.encode()))
    expires = int(time.time()) + 86400
    signed = sign_url(f"https://{HOST}/SIGNED?sms_msg_id=9", keyring, expires_at=expires)
    signed_path = signed.split(HOST, 1)[1]

    with start_runtime(env, tmp_path / "runtime.log") as runtime:
        with httpx.Client(base_url=runtime.base_url, follow_redirects=False) as client:
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            robots = client.get("/robots.txt", headers={"host": HOST})
            assert robots.text == "User-agent: *\nDisallow: /"

            tapped = _get(client, "/abc123?sms_msg_id=42")
            assert tapped.status_code == 302
            location = urlsplit(tapped.headers["location"])
            query = parse_qs(location.query)
            assert (location.netloc, location.path) == ("shop.example.com", "/abc123")
            assert query["utm_source"] == ["sms"] and query["sms_msg_id"] == ["42"]
            click_id = query["click_id"][0]

            assert _get(client, "/NOPE99").headers["location"] == FALLBACK
            assert _get(client, "/OFF").headers["location"] == "https://shop.example.com/ended"
            # A link preview neither spends max_clicks nor learns the destination (the neutral
            # page); people spend it, two of them.
            limited = [_get(client, "/LIMITED", WHATSAPP)] + [
                _get(client, "/LIMITED") for _ in range(3)
            ]
            assert [
                r.headers.get("location", str(r.status_code)).split("?")[0] for r in limited
            ] == [
                "200",
                "https://shop.example.com/limited",
                "https://shop.example.com/limited",
                f"https://{HOST}/disabled",
            ]
            assert (
                _get(client, signed_path)
                .headers["location"]
                .startswith("https://shop.example.com/signed")
            )
            tampered = signed_path.replace("sms_msg_id=9", "sms_msg_id=8")
            assert _get(client, tampered).headers["location"] == f"https://{HOST}/disabled"
            geo = client.get(
                "/GEO",
                headers={"host": HOST, "user-agent": PHONE, "cloudfront-viewer-country": "DE"},
            )
            assert geo.headers["location"].startswith("https://de.example.com/")
            languages = [
                client.get("/LANG", headers={"host": HOST, "accept-language": header})
                for header in ("de-CH;q=0.5, fr-CH;q=0.9", "fr-CA," + "fr;q=0.5," * 1000)
            ]
            assert [r.headers["location"].split("?")[0] for r in languages] == [
                "https://fr.example.com/",
                "https://en.example.com/",
            ]
            redirects = 1 + 1 + 1 + len(limited) + 2 + 1 + len(languages)
            disabled = client.get("/disabled", headers={"host": HOST})
            assert disabled.status_code == 200 and "no longer available" in disabled.text
        _stop_gracefully(runtime)  # SIGTERM: lifespan shutdown flushes the buffer

    events = local_aws.delivered_events(bucket)
    assert len(events) == redirects
    assert len({e.click_session_id for e in events}) == redirects
    by_click = {e.click_session_id: e for e in events}
    assert by_click[click_id].sms_msg_id == "42"
    assert by_click[click_id].forwarded_params == {"sms_msg_id": "42"}
    assert by_click[click_id].outcome == "ok" and by_click[click_id].link_id == "link-abc123"
    outcomes = sorted(e.outcome for e in events)
    assert outcomes.count("max_clicks") == 1 and outcomes.count("withheld") == 1
    assert outcomes.count("signature_invalid") == 1
    assert outcomes.count("not_found") == 1 and outcomes.count("inactive") == 1
    assert [e.is_bot for e in events if e.user_agent == WHATSAPP] == [True]
    assert sorted(e.routing_reason for e in events if e.link_id == "link-lang") == [
        "language:default",
        "language:fr",
    ]
    assert all(e.ip_hash and "127.0.0.1" not in e.ip_hash for e in events)
    # Counts and latency went out as EMF lines on stdout.
    emf = [
        json.loads(line)
        for line in runtime.output().splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]
    assert sum(doc.get("Outcome.ok", 0) for doc in emf) == outcomes.count("ok")


def test_without_a_stream_click_events_go_to_the_ndjson_file(
    local_aws: LocalAws, var_dir: Path, tmp_path: Path
) -> None:
    table = local_aws.create_table()
    local_aws.publish(table, [_record("FILE1")])
    env = runtime_env(local_aws, table_name=table.name, var_dir=var_dir)
    with start_runtime(env, tmp_path / "runtime.log") as runtime:
        with httpx.Client(base_url=runtime.base_url) as client:
            for _ in range(3):
                assert _get(client, "/file1").status_code == 302
        _stop_gracefully(runtime)
    lines = (var_dir / "click-events.ndjson").read_bytes().splitlines()
    events = [decode_event(line) for line in lines]
    assert [e.slug for e in events] == ["FILE1"] * 3
    assert {e.outcome for e in events} == {"ok"}


def test_firehose_missing_journals_every_event_and_nothing_is_lost(
    local_aws: LocalAws, var_dir: Path, tmp_path: Path
) -> None:
    table = local_aws.create_table()
    local_aws.publish(table, [_record("J1")])
    # A stream that does not exist: every PutRecordBatch fails.
    env = runtime_env(
        local_aws,
        table_name=table.name,
        stream_name="no-such-stream",
        var_dir=var_dir,
        FIREHOSE_MAX_ATTEMPTS="2",
    )
    with start_runtime(env, tmp_path / "runtime.log") as runtime:
        with httpx.Client(base_url=runtime.base_url) as client:
            for _ in range(25):
                assert (
                    _get(client, "/J1")
                    .headers["location"]
                    .startswith("https://shop.example.com/j1?")
                )
        _stop_gracefully(runtime)
    journal = var_dir / "journal"
    lines = [line for p in journal.iterdir() for line in p.read_bytes().splitlines() if line]
    assert len(lines) == 25
    assert len({decode_event(line).click_session_id for line in lines}) == 25


def _raw_get(base_url: str, target: str, host: str) -> tuple[int, str]:
    """One request written by hand (httpx always sends origin form): the status and Location."""
    authority = urlsplit(base_url).netloc
    address, port = authority.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {PHONE}\r\n"
            "Connection: close\r\n\r\n".encode("latin-1")
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    location = next(
        (line.split(":", 1)[1].strip() for line in head if line.lower().startswith("location:")),
        "",
    )
    return int(head[0].split()[1]), location


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_an_absolute_form_target_is_answered_for_its_own_host(
    server: str, local_aws: LocalAws, var_dir: Path, tmp_path: Path
) -> None:
    # RFC 9112 §3.2.2: an origin server answers an absolute-form target for the target's
    # authority and ignores the Host line. Under both servers the project runs the runtime with:
    # the development command (runtime_command) and the container's (gunicorn, RuntimeWorker).
    table = local_aws.create_table()
    local_aws.publish(table, [_record("ABS1")])
    env = runtime_env(local_aws, table_name=table.name, var_dir=var_dir)
    port = free_port()
    args = runtime_command("127.0.0.1", port)
    if server == "gunicorn":
        args = [
            sys.executable, "-m", "gunicorn", "-k", "runtime_service.server.RuntimeWorker",
            "-w", "1", "-b", f"127.0.0.1:{port}", "runtime_service.asgi:app",
        ]  # fmt: skip
    process = start_process(args, env=env, log_path=tmp_path / "runtime.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/health", timeout=30, proc=process.popen)
        asked_right = _raw_get(base_url, f"http://{HOST}/ABS1", host="127.0.0.1")
        host_right = _raw_get(base_url, "http://evil.example.net/ABS1", host=HOST)
        with_port = _raw_get(base_url, f"http://{HOST.upper()}:80/abs1?x=1", host="evil.example")
        origin_form = _raw_get(base_url, "/ABS1", host=HOST)
        not_a_url = _raw_get(base_url, "http://[::1/ABS1", host=HOST)
    finally:
        process.stop()
    assert asked_right[0] == 302 and asked_right[1].startswith("https://shop.example.com/abs1")
    assert host_right == (302, FALLBACK)
    assert with_port[0] == 302 and with_port[1].startswith("https://shop.example.com/abs1")
    assert origin_form[0] == 302 and origin_form[1].startswith("https://shop.example.com/abs1")
    assert not_a_url[0] == 400
