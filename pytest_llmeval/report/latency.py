"""The serving-performance block of the terminal summary: pure computation, lines out.

Per model, one headline (what was measured, throughput, achieved concurrency) and a small table
of p50/p90/p99 in milliseconds, one line per metric measured. Samples answered from the cache
were not timed in this run: the headline says how many were left out. Definitions are in
``results.latency`` and the README's "Serving performance".
"""

from __future__ import annotations

from collections.abc import Sequence

from ..results.latency import METRICS, PERCENTILES, LatencyRow

__all__ = ["latency_lines"]

_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2e": "E2E"}


def latency_lines(rows: Sequence[LatencyRow]) -> list[str]:
    lines: list[str] = []
    for row in rows:
        lines.extend(_block(row))
    return lines


def _block(row: LatencyRow) -> list[str]:
    excluded = f"; {row.cached} answered from the cache, excluded" if row.cached else ""
    if not row.n:
        return [f"latency {row.model}: nothing measured{excluded}"]
    head = f"latency {row.model} ({row.n} measured from when each request was sent{excluded})"
    rates = [f"{row.request_throughput:.2f} req/s" if row.request_throughput is not None else None,
             f"{row.output_throughput:.1f} output tok/s" if row.output_throughput is not None else None,
             f"concurrency {row.concurrency:.2f}" if row.concurrency is not None else None]
    shown = [r for r in rates if r]
    lines = [head + (": " + ", ".join(shown) if shown else "")]
    lines.append("  ms    " + "".join(f"{'p' + str(q):>10}" for q in PERCENTILES))
    for metric in METRICS:
        values = row.percentiles_ms.get(metric)
        if values:
            lines.append(f"  {_NAMES[metric]:<6}" + "".join(f"{values[f'p{q}']:>10.1f}" for q in PERCENTILES))
    if not row.streamed:
        lines.append("  TTFT, TPOT, ITL: not streamed (--llm-stream measures them)")
    return lines
