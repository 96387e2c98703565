"""Latency gates: ``<metric>_p<percentile>_ms: limit`` keys, checked like accuracy thresholds.

A gate such as ``ttft_p95_ms: 500`` holds when the 95th percentile (``latency.percentile``) of
the measured time to first token is at most 500 ms. Metrics: ``ttft``, ``tpot``, ``itl`` (these
three need ``--llm-stream``) and ``e2e``; the percentile is any number from 0 to 100.

Where gates come from, and what each one covers:
- a suite's ``latency:`` block and the ``llm_latency`` marker travel in each sample's payload and
  gate one (model, suite): for Python tests the suite is the module. Should samples of one suite
  disagree (two markers in one module), the strictest limit of each key applies;
- ``--llm-latency KEY=MS`` (ini ``llm_latency``) gates every model over all its samples.

A gate with nothing measured to check (every sample from the cache, or a streamed metric never
seen) is unmet: a latency gate that passes without measuring anything would gate nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from .latency import STREAM_METRICS, measured, metric_values, percentile
from .payload import SampleResult

__all__ = ["GateError", "check_gates", "gate_failures", "parse_gate_key", "stream_only"]

_KEY = re.compile(r"(ttft|tpot|itl|e2e)_p(\d+(?:\.\d+)?)_ms")


class GateError(ConfigError, ValueError):
    """A bad gate; ``key`` names it, the message (``detail``) says what was expected."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message, key=key)


def parse_gate_key(key: str) -> tuple[str, float]:
    """``ttft_p95_ms`` -> ("ttft", 95.0); GateError for anything else."""
    match = _KEY.fullmatch(key)
    if match is None or not 0 <= float(match.group(2)) <= 100:
        raise GateError(key, "expected <metric>_p<percentile>_ms with metric ttft, tpot, itl or e2e and a "
                             "percentile from 0 to 100, e.g. ttft_p95_ms")
    return match.group(1), float(match.group(2))


def check_gates(gates: Mapping[str, object]) -> dict[str, float]:
    """The gates as floats, or GateError naming the first bad key or value."""
    checked: dict[str, float] = {}
    for key, value in gates.items():
        parse_gate_key(str(key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise GateError(str(key), f"expected a limit in milliseconds > 0, got {value!r}")
        checked[str(key)] = float(value)
    return checked


def stream_only(gates: Iterable[str]) -> list[str]:
    """The gates that only a streamed reply can meet (TTFT, TPOT, ITL)."""
    return [key for key in gates if parse_gate_key(key)[0] in STREAM_METRICS]


def gate_failures(results: Iterable[SampleResult], run_gates: Mapping[str, float] | None = None,
                  models: list[str] | None = None) -> list[str]:
    """One line per unmet gate: the suites' (by model, then suite), then the run's (by model)."""
    samples = list(results)
    scoped: dict[tuple[str, str], list[SampleResult]] = {}
    by_model: dict[str, list[SampleResult]] = {}
    for r in samples:
        by_model.setdefault(r.model, []).append(r)
        if r.latency_gates:
            scoped.setdefault((r.model, r.suite), []).append(r)
    rank = {m: i for i, m in enumerate(models or [])}
    order = sorted(by_model, key=lambda m: (rank.get(m, len(rank)), m))
    lines = []
    for model, suite in sorted(scoped, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1])):
        group = scoped[(model, suite)]
        for key, limit in sorted(_strictest(r.latency_gates for r in group).items()):
            lines.extend(_check(f"{model} {suite}", key, limit, group))
    for model in order:
        for key, limit in sorted((run_gates or {}).items()):
            lines.extend(_check(f"{model} (--llm-latency)", key, limit, by_model[model]))
    return lines


def _strictest(gate_sets: Iterable[Mapping[str, float]]) -> dict[str, float]:
    strictest: dict[str, float] = {}
    for gates in gate_sets:
        for key, limit in gates.items():
            strictest[key] = min(limit, strictest.get(key, limit))
    return strictest


def _check(where: str, key: str, limit: float, samples: list[SampleResult]) -> list[str]:
    metric, q = parse_gate_key(key)
    timed = measured(samples)
    values = metric_values(timed, metric)
    if not values:
        cached = sum(r.cached for r in samples)
        why = (f"all {cached} answers came from the cache; use --llm-cache=refresh or off" if timed == [] and cached
               else f"no {metric} values among {len(timed)} measured samples"
               + (" (none streamed: --llm-stream, with a backend that streams)" if metric in STREAM_METRICS else ""))
        return [f"latency gate not met: {where} {key} {limit:g}: nothing measured ({why})"]
    value = percentile(values, q) * 1000
    if value <= limit:
        return []
    return [f"latency gate not met: {where} {metric} p{q:g} {value:.1f} ms > {limit:g} ms (n={len(timed)})"]
