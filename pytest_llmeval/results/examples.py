"""Failing examples of property tests (``@llmeval.examples``): per test and model, which drawn
examples failed, and the minimal failing example ``--llm-shrink`` found. Computed from the samples
alone, so a merge of shards lists what one run lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .payload import SampleResult

__all__ = ["SHOWN", "example_notes", "example_rows", "shown"]

SHOWN = 5  # failing examples named per test in the terminal; all are in results.json


def shown(example: dict[str, str]) -> str:
    """``a=500, b=0``: an example's arguments as the test got them."""
    return ", ".join(f"{name}={value}" for name, value in example.items())


def _smallest_first(text: str) -> tuple[int, str]:
    return len(text), text


def example_rows(samples: Iterable[SampleResult]) -> list[dict[str, Any]]:
    """One record per property test and model that ran: ``n`` examples, the ``failing`` ones
    (arguments, smallest first) and ``minimal``, the shrunk example (None without a shrink; with
    several, from shards, the smallest)."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in samples:
        if s.example is None:
            continue
        row = rows.setdefault((s.model, s.suite, s.subject), {"model": s.model, "suite": s.suite, "subject": s.subject,
                                                              "n": 0, "failing": [], "minimal": None})
        row["n"] += 1
        if s.correct is False:
            row["failing"].append(shown(s.example))
        if s.shrunk is not None:
            candidate = {**s.shrunk, "example": shown(s.shrunk["example"])}
            best = row["minimal"]
            if best is None or _smallest_first(candidate["example"]) < _smallest_first(best["example"]):
                row["minimal"] = candidate
    for row in rows.values():
        row["failing"].sort(key=_smallest_first)
    return sorted(rows.values(), key=lambda r: (r["model"], r["suite"], r["subject"]))


def example_notes(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The terminal's lines: each test's failing examples (the first ``SHOWN``), then its minimal one."""
    lines = []
    for row in rows:
        name = f"{row['suite']}::{row['subject']} [{row['model']}]"
        failing = row["failing"]
        if failing:
            more = f" and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
            lines.append(f"failing examples of {name} ({len(failing)} of {row['n']}): "
                         f"{'; '.join(failing[:SHOWN])}{more}")
        minimal = row["minimal"]
        if minimal is not None:
            how = f"shrunk from {minimal['from']} in {minimal['calls']} calls"
            if minimal.get("limit"):
                how += ", stopped at the --llm-shrink-calls limit"
            if minimal.get("stopped"):
                how += f", {minimal['stopped']}"
            lines.append(f"minimal failing example of {name}: {minimal['example']} ({how})")
    return lines
