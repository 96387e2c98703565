"""The results document and every file rendered from it, for a run and for merged shards alike.

One builder, one writer: the controller and ``pytest-llmeval merge`` both call ``build_document``
and ``write_report_dir``, which is what keeps a merge's reports identical to one run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..results.conclude import Conclusion
from ..results.pass_at import pass_at_rows
from ..results.payload import SampleResult
from .files import results_document, write_results_csv, write_results_json
from .baseline import baseline_lines
from .circular import circular_lines, perturb_lines
from .terminal import Line, summary_lines

__all__ = ["WRITERS", "build_document", "ordered_samples", "sample_records", "summary_block", "terminal_summary",
           "write_report_dir", "write_step_summary"]


def build_document(run: dict[str, Any], conclusion: Conclusion) -> dict[str, Any]:
    """results.json's content (docs/results-document.md)."""
    comparison = conclusion.comparison
    return results_document(run, conclusion.summary, extra={
        "verdict": {"passed": conclusion.passed, "failures": list(conclusion.failures), "notes": list(conclusion.notes)},
        "latency": [row.to_record() for row in conclusion.summary.latency],
        "usage": [row.to_record() for row in conclusion.summary.usage],
        "circular": [row.to_record() for row in conclusion.circular],
        "perturb": [row.to_record() for row in conclusion.perturb],
        "baseline": conclusion.baseline.describe() if conclusion.baseline is not None else None,
        "comparisons": [c.to_record() for c in comparison.comparisons] if comparison is not None else [],
        "regressions": [c.to_record() for c in comparison.regressions] if comparison is not None else [],
        "flips": [f.to_record() for f in comparison.flips] if comparison is not None else [],
        "pass_at_k": pass_at_rows(conclusion.samples),
        "pairwise": [row.to_record() for row in conclusion.pairwise],
        "corpus": list(conclusion.corpus),
        "examples": list(conclusion.examples),
    })


def ordered_samples(conclusion: Conclusion) -> list[SampleResult]:
    """Each sample once, in the summary's order: model (run order), suite, subject, id."""
    rank = {m: i for i, m in enumerate(conclusion.summary.models)}
    return sorted(conclusion.samples, key=lambda r: (rank.get(r.model, len(rank)), r.model, r.suite, r.subject, r.id))


def sample_records(conclusion: Conclusion) -> list[dict[str, Any]]:
    return [r.sample_record() for r in ordered_samples(conclusion)]


Writer = Callable[[Path, dict[str, Any], Conclusion, list[dict[str, Any]]], None]


def _json(path: Path, document: dict[str, Any], conclusion: Conclusion, samples: list[dict[str, Any]]) -> None:
    write_results_json(path, document)


def _csv(path: Path, document: dict[str, Any], conclusion: Conclusion, samples: list[dict[str, Any]]) -> None:
    write_results_csv(path, conclusion.summary)


def _html(path: Path, document: dict[str, Any], conclusion: Conclusion, samples: list[dict[str, Any]]) -> None:
    from .html import write_html  # jinja2, only when a report is written

    write_html(path, document, samples)


def _junit(path: Path, document: dict[str, Any], conclusion: Conclusion, samples: list[dict[str, Any]]) -> None:
    from .junit import write_junit

    write_junit(path, document, samples)


# The report writers: file name -> writer of (path, document, conclusion, sample records). A new
# report is one module plus one line here; a run and a merge both write every one.
WRITERS: Mapping[str, Writer] = MappingProxyType({
    "results.json": _json,
    "results.csv": _csv,
    "report.html": _html,
    "junit.xml": _junit,
})


def write_report_dir(folder: Path, document: dict[str, Any], conclusion: Conclusion,
                     samples: list[dict[str, Any]]) -> None:
    """Every file of ``WRITERS`` (samples.jsonl is written as samples arrive)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, write in WRITERS.items():
        write(folder / name, document, conclusion, samples)


def write_step_summary(document: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions set it."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from .markdown import append_step_summary

    append_step_summary(path, document, samples)


def summary_block(conclusion: Conclusion, document: dict[str, Any], flips_shown: int) -> list[Line]:
    """The terminal's summary: the table (with change and p against a baseline), the baseline's
    headline, notes and flips, then the verdict's failure lines."""
    compared = document.get("comparisons") if document.get("baseline") is not None else None
    lines = summary_lines(conclusion.summary, [], compared)
    lines += pass_at_lines(document.get("pass_at_k") or [])
    if conclusion.summary.gate == "ci_low":
        lines.append(("thresholds are checked against the 95% interval's lower bound (--llm-gate=ci-low)", {}))
    lines += [(text, {}) for text in circular_lines(document.get("circular") or [])]
    lines += [(text, {}) for text in perturb_lines(document.get("perturb") or [])]
    lines += baseline_lines(document.get("baseline"), document.get("comparisons") or [],
                            document.get("flips") or [], conclusion.notes, flips_shown)
    return lines + [(text, {"red": True, "bold": True}) for text in conclusion.failures]


def pass_at_lines(rows: Sequence[dict[str, Any]]) -> list[Line]:
    """``pass@k code/python [model]: pass@1 0.600  pass@4 0.800  pass^4 0.400 (5 problems x 4)``."""
    lines: list[Line] = []
    for row in rows:
        values = "  ".join(f"{name} {value:.3f}" for name, value in row.items() if name.startswith("pass"))
        lines.append((f"pass@k {row['suite']}/{row['subject']} [{row['model']}]: {values} "
                      f"({row['n']} problems x {row['repeats']} attempts)", {}))
    return lines


def terminal_summary(conclusion: Conclusion, document: dict[str, Any], flips_shown: int,
                     requests: Sequence[str] = ()) -> list[Line]:
    """Everything the terminal shows after a run, for the plugin and ``pytest-llmeval merge`` alike:
    the summary block, the run's request counts (``requests``: only a live run has them), each
    model's tokens and cost, and the serving latency of each model."""
    from .latency import latency_lines
    from .view import usage, usage_line

    lines = summary_block(conclusion, document, flips_shown)
    adaptive = concurrency_lines((document.get("run") or {}).get("concurrency") or [])
    usages = [usage_line(record) for record in usage(document)]
    return lines + [(text, {}) for text in [*requests, *usages, *adaptive, *latency_lines(conclusion.summary.latency)]]


def concurrency_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """``--llm-concurrency auto``, per model: where the run-wide limit settled and what it met."""
    return [f"concurrency {r['model']}: auto, limit {r['final_limit']} at the end (highest {r['max_limit']}), "
            f"{r['mean_in_flight'] if r.get('mean_in_flight') is not None else '?'} in flight on average, "
            f"peak {r['peak_in_flight']}; {r['overloaded']} of {r['sent']} requests answered 429/503, "
            f"{r['cuts']} cuts" for r in records]
