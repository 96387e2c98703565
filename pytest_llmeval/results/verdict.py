"""The verdict: why a run fails, one line per reason. An empty list means the run passes.

Pure computation over a Summary. The controller decides the exit status from it in
``pytest_sessionfinish``; the terminal summary only prints the same lines.
"""

from __future__ import annotations

from collections.abc import Collection

from .aggregate import Row, Summary
from .payload import SampleResult

__all__ = ["failures"]


def failures(summary: Summary, folded: Collection[str] = ()) -> list[str]:
    """Unmet thresholds and incomplete rows (subjects, then groups), unparsed shares over their limit, unmet latency
    gates, the errors, the fatal message. Rows left incomplete for a reason in ``folded`` (a budget reached)
    get no line of their own: the one line of that reason counts them (``conclude``)."""
    lines = [_threshold_line(row, summary.gate) for row in summary.rows
             if (not row.passed or row.incomplete) and row.incomplete not in folded]
    lines.extend(_unparsed_line(row) for row in summary.subjects if not row.unparsed_passed)
    lines.extend(summary.latency_failures)
    if summary.errors:
        lines.append(_errors_line(summary.errors))
    if summary.fatal is not None:
        lines.append(summary.fatal)
    return lines


def _threshold_line(row: Row, gate: str = "score") -> str:
    where = f"{row.model} {row.label}" + (" [group]" if row.kind == "group" else "")
    if row.incomplete is not None:
        gated = "; it cannot pass its threshold" if row.threshold is not None else ""
        return f"incomplete: {where} asked {row.asked} of {row.total} samples ({row.incomplete}){gated}"
    threshold = row.threshold if row.threshold is not None else 0.0
    if row.score is None:
        return f"threshold not met: {where} has no scored samples, needs {threshold:.3f} (n=0, errors={row.errors})"
    how = f", {row.aggregate} mean of its subjects" if row.aggregate == "naive" else ""
    if gate == "ci_low" and row.ci_low is not None:
        low, needed = _distinct(row.ci_low, threshold)
        return (f"threshold not met: {where} 95% interval's lower bound {low} < {needed} "
                f"(score {row.score:.3f}, n={row.n}{how}; --llm-gate=ci-low)")
    score, needed = _distinct(row.score, threshold)
    if row.stopped_early_at is None and row.asked < row.total and row.kind == "subject":
        return (f"threshold not met: {where} asked {row.asked} of {row.total} samples, and the early-stop "
                f"rule has no verdict from them (score so far {score}, needs {needed})")
    if row.stopped_early_at is not None:  # the rule's verdict on the whole subject, not the score's
        return (f"threshold not met: {where} fails {needed} at level alpha, stopped early at n={row.stopped_early_at} "
                f"of {row.total} (--llm-early-stop; score so far {score})")
    return f"threshold not met: {where} {score} < {needed} (n={row.n}{how})"


def _unparsed_line(row: Row) -> str:
    """Like a threshold: too many replies without a readable answer fail the run, whatever the score."""
    share, limit = _distinct(row.unparsed_share or 0.0, row.max_unparsed or 0.0)
    return (f"unparsed share over its limit: {row.model} {row.label} {share} > {limit} "
            f"({row.unparsed} of {row.n} replies had no readable answer)")


def _distinct(score: float, threshold: float) -> tuple[str, str]:
    """Three decimals, or as many more as it takes for the two numbers not to print alike."""
    for digits in range(3, 16):
        a, b = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if a != b:
            break
    return a, b


def _errors_line(errors: list[SampleResult]) -> str:
    first = errors[0]
    text = (first.error or "").strip()
    message = text.splitlines()[0] if text else "no message"
    where = f"{first.model} {first.suite}/{first.subject} id={first.id}"
    if len(errors) == 1:
        return f"1 sample had a backend error ({where}: {message})"
    return f"{len(errors)} samples had backend errors (first: {where}: {message})"
