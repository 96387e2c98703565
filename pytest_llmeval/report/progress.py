"""Where the requests stand, per model: the live progress line and the summary's request line.

The live line (done/total, samples/s, in flight, retries, ETA) is printed by the controller as
reports arrive, at most every ``--llm-progress`` seconds, so it works the same with and without
``-n`` (workers send their queue's numbers with each sample's report) and stays quiet under -q.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..identity import model_of_nodeid
from ..results.payload import SampleResult

__all__ = ["Progress", "request_lines", "tally"]


@dataclass(slots=True)
class Tally:
    samples: int = 0
    requests: int = 0
    retries: int = 0
    cached: int = 0
    errors: int = 0
    rejected: int = 0
    not_asked: int = 0


def tally(results: Iterable[SampleResult]) -> dict[str, Tally]:
    """Per model. An answer from the cache sent nothing; any other sent 1 + its retries. A sample
    of several attempts (``repeats``) counts each attempt's answer."""
    tallies: dict[str, Tally] = {}
    for r in results:
        t = tallies.setdefault(r.model, Tally())
        t.samples += 1
        if r.not_asked is not None:  # deliberately not sent (a budget, early stopping): no request
            t.not_asked += 1
            continue
        t.retries += r.retries
        cached = [bool(a.get("cached")) for a in r.attempts] if r.attempts else [r.cached]
        t.cached += sum(cached)
        t.requests += cached.count(False) + r.retries
        t.errors += r.error is not None
        t.rejected += r.rejected is not None
    return tallies


def request_lines(results: Iterable[SampleResult], elapsed_s: float) -> list[str]:
    """One line per model for the summary: what the run cost the endpoint."""
    lines = []
    for model, t in tally(results).items():
        rate = t.samples / elapsed_s if elapsed_s > 0 else 0.0
        parts = [f"{t.samples} samples", f"{t.requests} requests", f"{t.retries} retries", f"{t.cached} from cache",
                 f"{t.errors} errors"]
        if t.rejected:
            parts.append(f"{t.rejected} refused by the endpoint")
        if t.not_asked:
            parts.append(f"{t.not_asked} not asked")
        lines.append(f"{model}: {', '.join(parts)}, {rate:.1f} samples/s")
    return lines


@dataclass
class Progress:
    """The controller's running view of every process's queues."""

    totals: Counter[str] = field(default_factory=Counter)
    interval_s: float = 10.0
    done: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    engines: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # process -> model -> stats
    started: float | None = None  # the first answer: rates count from there, not from start-up
    _last: float = field(default_factory=time.perf_counter)

    def count_items(self, nodeids: Iterable[str], models: list[str]) -> None:
        for nodeid in nodeids:
            model = model_of_nodeid(nodeid, models)
            if model is not None:
                self.totals[model] += 1

    def record(self, result: SampleResult, process: str | None, engine: dict[str, dict[str, Any]] | None) -> None:
        if self.started is None:
            self.started = time.perf_counter()
        self.done[result.model] += 1
        self.retries[result.model] += result.retries
        if engine is not None:
            self.engines[process or "main"] = engine

    def due(self, now: float | None = None) -> bool:
        now = time.perf_counter() if now is None else now
        if self.interval_s <= 0 or now - self._last < self.interval_s:
            return False
        self._last = now
        return True

    def lines(self, now: float | None = None) -> list[str]:
        elapsed = (time.perf_counter() if now is None else now) - (self.started or 0.0)
        lines = []
        for model in sorted(set(self.totals) | set(self.done)):
            done, total = self.done[model], self.totals[model] or self.done[model]
            rate = (done - 1) / elapsed if elapsed > 0 and done > 1 else 0.0
            in_flight = sum(stats.get(model, {}).get("in_flight", 0) for stats in self.engines.values())
            eta = (total - done) / rate if rate > 0 else None
            lines.append(f"llmeval {model}: {done}/{total} samples, {rate:.1f}/s, {in_flight} in flight, "
                         f"{self.retries[model]} retries, ETA {_duration(eta)}")
        return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
