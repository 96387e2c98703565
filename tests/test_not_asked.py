"""Samples deliberately not sent (``errors.NotAsked``): never scored, never a miss or an error.

A complete one (early stopping: the verdict was known) leaves its subject complete; an incomplete
one (a budget reached) makes its subject never pass and the run not green, with one line. The end
to end runs that produce them are in ``tests/test_early_stop.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmeval.engine.dispatch import Outcome
from pytest_llmeval.errors import LLMEvalError, NotAsked
from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.conclude import Settings, conclude
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.verdict import failures
from pytest_llmeval.suites.evaluate import combine_attempts

STOPPED = "stopped early at n=2 (verdict pass at alpha 0.05)"
BUDGET = "the token budget (1,000) was reached"


def sample(id: str, correct: bool | None = True, **kw: Any) -> SampleResult:
    kw.setdefault("threshold", 0.5)
    return SampleResult(model="m", suite="s", subject="x", id=id, version="v1", nodeid=f"x::{id}",
                        correct=correct, score=None if correct is None else float(correct), **kw)


def not_asked(id: str, reason: str, complete: bool, **kw: Any) -> SampleResult:
    result = sample(id, None, **kw)
    result.set_not_asked(reason, complete)
    return result


def test_not_asked_is_in_the_tree_with_its_reason() -> None:
    exc = NotAsked(BUDGET, complete=False)
    assert isinstance(exc, LLMEvalError) and str(exc) == BUDGET and exc.reason == BUDGET and not exc.complete


def test_complete_not_asked_samples_are_left_out_of_the_score() -> None:
    rows = aggregate([sample("1"), sample("2", False), sample("3"), not_asked("4", STOPPED, True),
                      not_asked("5", STOPPED, True)]).subjects
    (row,) = rows
    assert (row.n, row.correct, row.asked, row.total, row.errors) == (3, 2, 3, 5, 0)
    assert row.score == pytest.approx(2 / 3) and row.passed and row.incomplete is None
    assert row.to_record() | {"asked": 3, "total": 5, "incomplete": None} == row.to_record()


def test_an_incomplete_subject_never_passes_and_says_why_in_one_line() -> None:
    summary = aggregate([sample("1"), sample("2"), not_asked("3", BUDGET, False, groups=["g"]),
                         sample("4", groups=["g"])])
    row = summary.subjects[0]
    assert row.score == 1.0 and not row.passed and row.incomplete == BUDGET
    lines = failures(summary)
    assert lines == [f"incomplete: m s/x asked 3 of 4 samples ({BUDGET}); it cannot pass its threshold",
                     f"incomplete: m s/g [group] asked 1 of 2 samples ({BUDGET})"]


def test_an_incomplete_subject_without_a_threshold_still_fails_the_run() -> None:
    summary = aggregate([sample("1", threshold=None), not_asked("2", BUDGET, False, threshold=None)])
    assert failures(summary) == [f"incomplete: m s/x asked 1 of 2 samples ({BUDGET})"]


def test_samples_jsonl_and_merge_carry_it() -> None:
    records = [json.loads(json.dumps(r.sample_record())) for r in
               (sample("1"), not_asked("2", STOPPED, True), not_asked("3", BUDGET, False))]
    assert records[2]["not_asked"] == BUDGET and records[2]["not_asked_complete"] is False
    merged = conclude([SampleResult.from_record(r) for r in records], Settings())
    row = merged.summary.subjects[0]
    assert (row.asked, row.total, row.n, row.incomplete) == (1, 3, 1, BUDGET) and not merged.passed


def test_an_attempt_not_asked_makes_the_sample_not_asked_but_an_error_wins() -> None:
    right, skipped = sample("1"), not_asked("1", BUDGET, False)
    combined = combine_attempts([right, skipped], [1])
    assert combined.not_asked == BUDGET and combined.correct is None and combined.score is None
    errored = sample("1", None, error="HTTP 500")
    assert combine_attempts([errored, skipped], [1]).error is not None


def test_an_outcome_not_asked_becomes_the_result() -> None:
    from pytest_llmeval.suites.evaluate import apply_outcome

    result = apply_outcome(sample("1", None), None, None, Outcome(not_asked=NotAsked(STOPPED, True)))  # type: ignore[arg-type]
    assert (result.not_asked, result.not_asked_complete, result.correct, result.error) == (STOPPED, True, None, None)
