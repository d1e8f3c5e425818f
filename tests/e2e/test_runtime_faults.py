"""Faults over real HTTP with real processes: the runtime as a uvicorn process, the moto
server, and a fault proxy (``tests/support/fault_proxy.py``) between them, switched under load.

``tests/runtime/test_faults.py`` proves the same promises in process with fakes; here the
network, aiobotocore, the Firehose client, uvicorn and signals are the real ones. Each test's
docstring gives its figure. Requests are counted from the client side: a click is *accepted*
when the client got a ``302`` carrying its ``click_id``.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from link_tracking_runtime import RuntimeRecord
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.load import Outcome, click_id, drive, emf_counters, journal_ids, poll
from tests.support.stack import LocalAws, RuntimeProcess, runtime_env, start_runtime

pytestmark = pytest.mark.e2e

HOST = "go.example.com"
FALLBACK = "https://www.example.com/link-unavailable"
HEADERS = {
    "host": HOST,
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
}


def _record(slug: str) -> RuntimeRecord:
    return RuntimeRecord(
        domain=HOST,
        slug=slug,
        link_id=f"link-{slug.lower()}",
        destination_url=f"https://shop.example.com/{slug.lower()}",
        fallback_url=f"https://{HOST}/disabled",
        active=True,
        runtime_version=1,
        resolved_query_params={"utm_source": "sms"},
        dynamic_param_allowlist=("click_id", "sms_msg_id"),
        campaign_id="SPRING26",
        channel="sms",
    )


def _destination(slug: str) -> str:
    return f"https://shop.example.com/{slug.lower()}?"


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(moto_endpoint, seed=20261122) as running:
        yield running


def _stop(runtime: RuntimeProcess) -> str:
    assert runtime.stop() in (0, -signal.SIGTERM)
    output = runtime.output()
    assert '"message":"runtime stopped"' in output
    assert "Traceback" not in output
    return output


def _held(runtime: RuntimeProcess) -> int:
    held: int = httpx.get(f"{runtime.base_url}/health").json()["events_held"]
    return held


def test_dynamodb_unreachable_under_load_then_recovered_without_restart(
    local_aws: LocalAws, proxy: FaultProxy, var_dir: Path, tmp_path: Path
) -> None:
    """DynamoDB unreachable (connections refused for 1,500 requests, then requests never
    answered for 1,500 more) while 16 concurrent clients send 3,000 requests at 600/s (5 s):
    70% to four cached links (past their 1 s TTL, so each needs DynamoDB), 20% to 40 unknown
    slugs, 10% to a link published *during* the outage. Figure: 3,000 of 3,000 answered
    ``302``, zero 5xx, zero errors, the slowest about 0.5 s (``DYNAMODB_TIMEOUT_SECONDS``);
    every cached link kept its destination; every unknown and the new link went to
    ``DEFAULT_FALLBACK_URL``. DynamoDB back: the new link is served within about a second by
    the same process (same pid, no restart), an unknown slug still falls back.
    """
    table = local_aws.create_table()
    hot = ["HOT1", "HOT2", "HOT3", "HOT4"]
    local_aws.publish(table, [_record(slug) for slug in hot])
    env = runtime_env(
        local_aws,
        table_name=table.name,
        var_dir=var_dir,
        AWS_ENDPOINT_URL_DYNAMODB=proxy.url,
        CACHE_TTL_SECONDS="1",
        CACHE_NEGATIVE_TTL_SECONDS="0.5",
        RATE_LIMIT_PER_MINUTE="0",
    )
    rng = random.Random(6)
    paths = []
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.7:
            paths.append(f"/{rng.choice(hot)}?sms_msg_id={rng.randrange(10**6)}")
        elif roll < 0.9:
            paths.append(f"/COLD{rng.randrange(40)}")
        else:
            paths.append("/NEW1")

    with start_runtime(env, tmp_path / "runtime.log") as runtime:
        pid = runtime.process.pid
        with httpx.Client(base_url=runtime.base_url, headers=HEADERS) as client:
            for slug in hot:  # in the cache before the outage
                # Polled: on a busy host a first read may outlast the 0.5 s deadline (the
                # fallback, correctly); what matters is that each link is cached before.
                assert poll(
                    lambda slug=slug: (
                        client.get(f"/{slug}").headers["location"].startswith(_destination(slug))
                    ),
                    timeout=10,
                )
        time.sleep(1.2)  # every cached record is now past its 1 s TTL
        proxy.mode = "refuse"
        started = time.monotonic()
        outcomes = asyncio.run(
            drive(
                runtime.base_url,
                paths,
                headers=HEADERS,
                rate=600,
                before={
                    750: lambda: local_aws.publish(table, [_record("NEW1")]),
                    1500: lambda: setattr(proxy, "mode", "hang"),
                },
            )
        )
        proxy.mode = "pass"
        outage = time.monotonic() - started

        assert len(outcomes) == 3000
        assert [o for o in outcomes if o.status != 302] == []
        for outcome in outcomes:
            slug = outcome.path[1:].split("?")[0]
            assert outcome.location is not None
            if slug in hot:
                assert outcome.location.startswith(_destination(slug)), outcome
            else:
                assert outcome.location == FALLBACK, outcome
        assert proxy.stats["hang"] > 0  # reads did reach the proxy and were left unanswered

        # Recovery, same process: the link published during the outage is served.
        restored = time.monotonic()
        with httpx.Client(base_url=runtime.base_url, headers=HEADERS) as client:
            assert poll(
                lambda: client.get("/NEW1").headers["location"].startswith(_destination("NEW1")),
                timeout=30,
            )
            recovered = time.monotonic() - restored
            assert client.get("/COLD999").headers["location"] == FALLBACK
            assert client.get("/HOT1").headers["location"].startswith(_destination("HOT1"))
        assert runtime.process.popen.poll() is None and runtime.process.pid == pid
        output = _stop(runtime)

    counters = emf_counters(output)
    assert counters["DynamoDBError"] > 0 and counters["CacheStaleServed"] > 0
    assert '"message":"request failed' not in output
    slowest = max(o.seconds for o in outcomes)
    print(
        f"\nDynamoDB outage: {len(outcomes)} requests over {outage:.1f} s, all 302, slowest "
        f"{slowest * 1000:.0f} ms; new link served {recovered:.1f} s after recovery; "
        f"DynamoDBError {counters['DynamoDBError']}, DynamoDBSkipped "
        f"{counters['DynamoDBSkipped']}, CacheStaleServed {counters['CacheStaleServed']}"
    )


def test_firehose_rejecting_then_down_then_back_delivers_every_click_exactly_once(
    local_aws: LocalAws, proxy: FaultProxy, var_dir: Path, tmp_path: Path
) -> None:
    """Steady load (500 requests/s, 16 concurrent) through four Firehose phases, each switched
    under load: 30% of the records of every ``PutRecordBatch`` rejected (1,500 requests);
    every call answered ``503`` (1,000 requests, then on until a call of the runtime's got a
    503); connections refused (1,000 requests, then on until a call of the runtime's failed to
    connect); back (until the journal is empty, load still on).
    ``FIREHOSE_MAX_ATTEMPTS=6``, so rejected records are mostly resent until taken (a record
    still rejected at the last attempt is journaled, and the runtime then treats Firehose as
    down for 5 s). Figure (phase lengths follow the runtime's 5 s probe, so they vary a little):
    ~6,000 requests, every one a ``302`` with its own click id. With
    Firehose still refused and nothing held in memory, every accepted id is in S3 or in the
    journal, never both, none twice. Back: the journal replays to empty *while traffic goes on*
    and S3 holds exactly the accepted ids, each once; the runtime's counters agree
    (``EventsEmitted`` = ``EventsDelivered`` = accepted).
    """
    table = local_aws.create_table()
    stream, bucket = local_aws.create_stream()
    local_aws.publish(table, [_record("FH1"), _record("FH2")])
    env = runtime_env(
        local_aws,
        table_name=table.name,
        stream_name=stream,
        var_dir=var_dir,
        AWS_ENDPOINT_URL_FIREHOSE=proxy.url,
        FIREHOSE_TIMEOUT_SECONDS="5",
        FIREHOSE_MAX_ATTEMPTS="6",
        RATE_LIMIT_PER_MINUTE="0",
    )
    journal = var_dir / "journal"
    log = tmp_path / "runtime.log"

    def delivered() -> list[str]:
        return sorted(e.click_session_id for e in local_aws.delivered_events(bucket))

    def connection_failures() -> int:
        # The runtime's own account of calls that failed without an HTTP answer.
        return sum(
            1
            for line in log.read_text(errors="replace").splitlines()
            if "click event batch call failed" in line and "PutRecordBatch answered" not in line
        )

    outcomes: list[Outcome] = []
    with start_runtime(env, log) as runtime:

        def load(count: int, until: Callable[[], bool] | None = None) -> None:
            paths = (f"/FH{1 + i % 2}?sms_msg_id={i}" for i in range(count))
            outcomes.extend(
                asyncio.run(drive(runtime.base_url, paths, headers=HEADERS, rate=500, until=until))
            )

        # Each down phase: 1,000 requests (2 s), then on until the runtime has met its fault.
        proxy.mode = "partial"
        load(1500)
        assert proxy.stats["records_rejected"] > 0
        proxy.mode = "unavailable"
        load(1000)
        load(10_000, until=lambda: proxy.stats["unavailable"] > 0)
        assert proxy.stats["unavailable"] > 0
        proxy.mode = "refuse"
        before = connection_failures()
        load(1000)
        load(10_000, until=lambda: connection_failures() > before)
        assert connection_failures() > before

        assert [o for o in outcomes if o.status != 302] == []
        accepted = sorted(filter(None, (click_id(o.location) for o in outcomes)))
        assert len(accepted) == len(set(accepted)) == len(outcomes)

        # Down, nothing held in memory: every accepted click is delivered or journaled.
        assert poll(lambda: _held(runtime) == 0, timeout=30)
        sent, kept = delivered(), journal_ids(journal)
        assert len(sent) == len(set(sent))  # none delivered twice
        assert set(sent).isdisjoint(kept)
        assert set(sent) | set(kept) == set(accepted)
        assert len(kept) > 0
        figures = f"while down: {len(sent)} delivered + {len(kept)} journaled"

        # Back, with traffic going on: the journal is replayed to empty.
        proxy.mode = "pass"
        load(20_000, until=lambda: not any(journal.iterdir()))
        assert not journal_ids(journal)
        assert [o for o in outcomes if o.status != 302] == []
        accepted = sorted(filter(None, (click_id(o.location) for o in outcomes)))
        assert len(accepted) == len(set(accepted)) == len(outcomes)
        assert poll(lambda: _held(runtime) == 0 and len(delivered()) >= len(accepted), 30)
        output = _stop(runtime)

    assert delivered() == accepted  # each accepted click exactly once, nothing else
    assert journal_ids(journal) == []
    counters = emf_counters(output)
    assert counters["EventsEmitted"] == counters["EventsDelivered"] == len(accepted)
    assert counters["EventsJournaled"] > 0 and counters["EventsReplayed"] > 0
    print(
        f"\nFirehose faults: {len(accepted)} accepted; {figures}; after recovery "
        f"{len(accepted)} delivered once each; proxy held back "
        f"{proxy.stats['records_rejected']} records; runtime: "
        + ", ".join(
            f"{name} {counters[name]}"
            for name in ("EventsRejected", "SinkCallFailed", "EventsJournaled", "EventsReplayed")
        )
    )


def test_sigterm_under_load_every_accepted_click_is_delivered_or_journaled(
    local_aws: LocalAws, proxy: FaultProxy, var_dir: Path, tmp_path: Path
) -> None:
    """SIGTERM to the runtime while 16 concurrent clients keep sending and a
    ``PutRecordBatch`` hangs in Firehose (the proxy holds it from request 800 on and never
    forwards a batch whose caller gave up). ``SHUTDOWN_FLUSH_SECONDS=0.5``. Figure: every
    request that got a ``302`` before the server closed (about 1,200 of them; every other
    request found its connection closed or refused, none got a 5xx) has its click event in S3 or in the journal
    the stopped process left. A second runtime process on the same journal directory replays
    it: then every accepted click is in S3, exactly once.
    """
    table = local_aws.create_table()
    stream, bucket = local_aws.create_stream()
    local_aws.publish(table, [_record("TERM1")])
    env = runtime_env(
        local_aws,
        table_name=table.name,
        stream_name=stream,
        var_dir=var_dir,
        AWS_ENDPOINT_URL_FIREHOSE=proxy.url,
        FIREHOSE_TIMEOUT_SECONDS="20",
        SHUTDOWN_FLUSH_SECONDS="0.5",
        RATE_LIMIT_PER_MINUTE="0",
    )
    proxy.hold_seconds = 60.0
    journal = var_dir / "journal"
    paths = [f"/TERM1?sms_msg_id={i}" for i in range(20000)]

    def delivered() -> list[str]:
        return sorted(e.click_session_id for e in local_aws.delivered_events(bucket))

    with start_runtime(env, tmp_path / "first.log") as runtime:
        popen = runtime.process.popen
        outcomes = asyncio.run(
            drive(
                runtime.base_url,
                paths,
                headers=HEADERS,
                rate=1000,
                before={
                    800: lambda: setattr(proxy, "mode", "hold"),
                    1200: lambda: runtime.process.signal(signal.SIGTERM),
                },
                stop_on_error=lambda: True,
            )
        )
        popen.wait(30)
        output = _stop(runtime)

    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {302, None}, statuses  # answered with a redirect, or not at all
    accepted = sorted(filter(None, (click_id(o.location) for o in outcomes)))
    # Requests sent before the signal (up to 1,200, less the few still queued in the client).
    assert len(accepted) == statuses[302] > 1100
    assert proxy.stats["held_and_abandoned"] >= 1
    assert "journaled click events at shutdown" in output
    sent, kept = delivered(), journal_ids(journal)
    assert len(kept) > 0
    assert set(accepted) <= set(sent) | set(kept)

    # The next process replays what the stopped one journaled.
    proxy.mode = "pass"
    with start_runtime(env, tmp_path / "second.log") as second:
        assert poll(lambda: not journal_ids(journal), timeout=30)
        _stop(second)
    final = delivered()
    assert len(final) == len(set(final))  # exactly once
    assert set(accepted) <= set(final)
    print(
        f"\nSIGTERM: {len(accepted)} accepted, {statuses[None]} requests refused or cut; at "
        f"exit {len(sent)} delivered + {len(kept)} journaled; after replay {len(final)} "
        f"delivered once each ({len(final) - len(accepted)} of requests whose answer the "
        "client never read)"
    )
