"""Metrics as CloudWatch Embedded Metric Format (EMF) log lines, aggregated in process.

Nothing is sent per request: the hot path adds to counters and a latency summary, and a
background task writes one EMF JSON line per interval (CloudWatch Logs turns it into metrics;
no PutMetricData call, no network on the request path). Latency is written both as summary
gauges (p50, p99, max, average of the interval) and as a sample of up to 100 values, from
which CloudWatch computes its own percentiles.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from typing import Any, Final, TextIO

__all__ = ["Metrics"]

_SAMPLE_SIZE: Final = 1024
_EMF_ARRAY_MAX: Final = 100


class Metrics:
    """Counters and a latency summary for one interval; :meth:`flush` writes and resets them."""

    def __init__(
        self,
        namespace: str,
        *,
        service: str = "link-runtime",
        clock: Callable[[], float],
        stream: TextIO | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.namespace = namespace
        self.service = service
        self._clock = clock
        self._stream = stream
        self._rng = rng or random.Random()
        self._random = self._rng.random
        self.counters: dict[str, int] = {}
        self._latency_count = 0
        self._latency_sum = 0.0
        self._latency_max = 0.0
        self._latency_sample: list[float] = []

    def count(self, name: str, value: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + value

    def latency(self, milliseconds: float) -> None:
        self._latency_count += 1
        self._latency_sum += milliseconds
        if milliseconds > self._latency_max:
            self._latency_max = milliseconds
        # Reservoir sampling (Algorithm R): every request equally likely to be in the sample.
        # ``int(random() * n)`` rather than ``randrange(n)``: a fifth of the cost on the hot
        # path, and uniform to within 2**-53 for any count a process reaches.
        if len(self._latency_sample) < _SAMPLE_SIZE:
            self._latency_sample.append(milliseconds)
        else:
            slot = int(self._random() * self._latency_count)
            if slot < _SAMPLE_SIZE:
                self._latency_sample[slot] = milliseconds

    def document(self) -> dict[str, Any] | None:
        """The EMF document of the current interval, or ``None`` when nothing happened."""
        if not self.counters and not self._latency_count:
            return None
        values: dict[str, Any] = dict(self.counters)
        definitions = [{"Name": name, "Unit": "Count"} for name in sorted(self.counters)]
        if self._latency_count:
            ordered = sorted(self._latency_sample)
            step = max(1, len(ordered) // _EMF_ARRAY_MAX)
            sample = ordered[::step][:_EMF_ARRAY_MAX]
            values["RedirectLatency"] = [round(v, 3) for v in sample]
            values["RedirectLatencyP50"] = round(_percentile(ordered, 0.50), 3)
            values["RedirectLatencyP99"] = round(_percentile(ordered, 0.99), 3)
            values["RedirectLatencyMax"] = round(self._latency_max, 3)
            values["RedirectLatencyAvg"] = round(self._latency_sum / self._latency_count, 3)
            definitions += [
                {"Name": name, "Unit": "Milliseconds"}
                for name in (
                    "RedirectLatency",
                    "RedirectLatencyP50",
                    "RedirectLatencyP99",
                    "RedirectLatencyMax",
                    "RedirectLatencyAvg",
                )
            ]
        return {
            "_aws": {
                "Timestamp": int(self._clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["Service"]],
                        "Metrics": definitions,
                    }
                ],
            },
            "Service": self.service,
            **values,
        }

    def flush(self) -> dict[str, Any] | None:
        """Write the interval's EMF line (if anything happened) and start a new interval."""
        document = self.document()
        self.counters = {}
        self._latency_count = 0
        self._latency_sum = 0.0
        self._latency_max = 0.0
        self._latency_sample = []
        if document is not None:
            stream = self._stream or sys.stdout
            stream.write(json.dumps(document, separators=(",", ":")) + "\n")
            stream.flush()
        return document


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
