"""Serving performance per model: latency percentiles and throughput over the request phase.

Pure computation over payloads, like ``aggregate``, so it is the same with and without xdist.

- Only samples measured in this run count: a sample answered from the cache (``cached``), one
  that errored or was refused, or one with no ``e2e_s`` sent nothing this run that could be timed.
- TTFT, TPOT and ITL exist only for streamed samples; a model that did not stream reports E2E alone.
- Percentiles use numpy's default ``linear`` method (type 7 of Hyndman and Fan): for ``q`` in
  0..100 over ``n`` sorted values, the value at rank ``q/100 * (n - 1)``, interpolated between its
  neighbours. Written out here so the controller needs no numpy; the tests compare with numpy.
- ITL percentiles pool every gap between content chunks of every measured sample (as vLLM's
  benchmark does), not a per-sample mean, so a stall in one long reply shows at p99.
- The request phase runs from the first measured request being sent to the last one finishing
  (``sent_at`` is wall-clock time, comparable across the run's processes on one machine).
  Request throughput = measured samples / phase; output token throughput = their output tokens /
  phase; achieved concurrency = sum of their E2E / phase (the mean number of requests in flight).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .payload import SampleResult

__all__ = ["METRICS", "PERCENTILES", "LatencyRow", "latency_rows", "measured", "metric_values", "percentile"]

METRICS = ("ttft", "tpot", "itl", "e2e")
STREAM_METRICS = frozenset({"ttft", "tpot", "itl"})
PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """numpy.percentile(values, q) with the default linear method; ``values`` must not be empty."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def measured(results: Iterable[SampleResult]) -> list[SampleResult]:
    """The samples timed in this run: answered by a request sent now, not by the cache."""
    return [r for r in results if not r.cached and r.error is None and r.rejected is None and r.e2e_s is not None]


def metric_values(samples: Iterable[SampleResult], metric: str) -> list[float]:
    """Seconds: one value per sample (ttft, tpot, e2e), or every inter-token gap pooled (itl)."""
    values: list[float] = []
    for r in samples:
        if metric == "itl":
            values.extend(r.itl_s or ())
            continue
        value = {"ttft": r.ttft_s, "tpot": r.tpot_s, "e2e": r.e2e_s}[metric]
        if value is not None:
            values.append(value)
    return values


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """One model's serving numbers. ``percentiles_ms[metric]`` maps "p50" etc. to milliseconds;
    a metric with no values (TTFT without streaming) is absent."""

    model: str
    n: int  # samples measured
    cached: int  # samples answered from the cache, excluded
    streamed: int  # measured samples that were streamed
    duration_s: float | None
    request_throughput: float | None  # samples/s over the request phase
    output_throughput: float | None  # output tokens/s over the request phase
    concurrency: float | None  # sum of E2E / request phase
    output_tokens: int
    percentiles_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The results.json row: one flat record, ``ttft_p50_ms`` style keys for each metric."""
        record: dict[str, Any] = {
            "model": self.model, "n": self.n, "cached_excluded": self.cached, "streamed": self.streamed,
            "duration_s": _round(self.duration_s), "request_throughput": _round(self.request_throughput),
            "output_throughput": _round(self.output_throughput), "concurrency": _round(self.concurrency),
            "output_tokens": self.output_tokens,
        }
        for metric in METRICS:
            for name in (f"p{q}" for q in PERCENTILES):
                value = self.percentiles_ms.get(metric, {}).get(name)
                record[f"{metric}_{name}_ms"] = _round(value)
        return record


def latency_rows(results: Iterable[SampleResult], models: Sequence[str]) -> list[LatencyRow]:
    """One row per model in ``models`` order that has any result; none when nothing was timed at all."""
    by_model: dict[str, list[SampleResult]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    order = [m for m in models if m in by_model] + sorted(set(by_model) - set(models))
    return [_row(model, by_model[model]) for model in order]


def _row(model: str, samples: list[SampleResult]) -> LatencyRow:
    timed = measured(samples)
    tokens = sum(r.output_tokens or 0 for r in timed)
    phase = _phase(timed)
    return LatencyRow(
        model=model, n=len(timed), cached=sum(r.cached for r in samples), streamed=sum(r.streamed for r in timed),
        duration_s=phase, request_throughput=_per_s(len(timed), phase),
        output_throughput=_per_s(tokens, phase) if tokens else None,
        concurrency=_per_s(sum(r.e2e_s or 0.0 for r in timed), phase), output_tokens=tokens,
        percentiles_ms={metric: values for metric in METRICS if (values := _percentiles_ms(timed, metric))},
    )


def _per_s(amount: float, phase: float | None) -> float | None:
    return amount / phase if phase else None


def _percentiles_ms(samples: list[SampleResult], metric: str) -> dict[str, float]:
    values = metric_values(samples, metric)
    return {f"p{q}": percentile(values, q) * 1000 for q in PERCENTILES} if values else {}


def _phase(samples: list[SampleResult]) -> float | None:
    """Seconds from the first send to the last answer; None without wall-clock send times."""
    spans = [(r.sent_at, r.sent_at + (r.e2e_s or 0.0)) for r in samples if r.sent_at is not None]
    if not spans:
        return None
    duration = max(end for _, end in spans) - min(start for start, _ in spans)
    return duration if duration > 0 else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
