from __future__ import annotations

import io
import json
import random

from runtime_service.metrics import Metrics
from tests.support.fakes import ManualClock


def test_an_interval_becomes_one_emf_line_and_resets() -> None:
    stream = io.StringIO()
    metrics = Metrics("LinkRuntime", clock=ManualClock(1000.0), stream=stream, rng=random.Random(1))
    for _ in range(3):
        metrics.count("Outcome.ok")
    metrics.count("Outcome.not_found")
    for ms in range(1, 201):
        metrics.latency(float(ms))
    metrics.flush()
    (line,) = stream.getvalue().splitlines()
    doc = json.loads(line)
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert doc["_aws"]["Timestamp"] == 1_000_000
    assert directive["Namespace"] == "LinkRuntime" and directive["Dimensions"] == [["Service"]]
    declared = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert declared["Outcome.ok"] == "Count" and declared["RedirectLatencyP99"] == "Milliseconds"
    # Every declared metric has a value at the root (EMF requires it).
    assert all(name in doc for name in declared)
    assert doc["Outcome.ok"] == 3 and doc["Outcome.not_found"] == 1
    assert doc["RedirectLatencyMax"] == 200.0
    assert doc["RedirectLatencyAvg"] == 100.5
    assert 95 <= doc["RedirectLatencyP50"] <= 105 and doc["RedirectLatencyP99"] >= 195
    assert 0 < len(doc["RedirectLatency"]) <= 100
    # The next interval starts empty: nothing happened, nothing is written.
    assert metrics.flush() is None
    assert len(stream.getvalue().splitlines()) == 1


def test_the_latency_sample_stays_bounded() -> None:
    metrics = Metrics("X", clock=ManualClock(), stream=io.StringIO(), rng=random.Random(2))
    for index in range(10_000):
        metrics.latency(index % 10)
    doc = metrics.document()
    assert doc is not None
    assert len(doc["RedirectLatency"]) <= 100
    assert doc["RedirectLatencyMax"] == 9
