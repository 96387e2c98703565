"""Aggregation: properties over generated payloads, then the cases worth spelling out."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_llmeval.results
from pytest_llmeval.results.aggregate import Row, Summary, aggregate
from pytest_llmeval.results.payload import SampleResult

MODELS = ["m-a", "m-b", "模型c"]
SUITES = ["s1", "s2"]
SUBJECTS = ["x", "y", "数学"]
GROUPS = ["g1", "g2"]


def sample(model: str = "m", subject: str = "x", id: str = "0", outcome: bool | str = True, **kw: Any) -> SampleResult:
    """A payload; ``outcome`` is correct (True/False) or an error message (a str)."""
    error = outcome if isinstance(outcome, str) else None
    kw.setdefault("suite", "s")
    kw.setdefault("version", "v1")
    return SampleResult(
        model=model, subject=subject, id=id, nodeid=f"{subject}::{id}",
        correct=None if error else bool(outcome), error=error, **kw,
    )


@st.composite
def payloads(draw: st.DrawFn) -> list[SampleResult]:
    """Payloads as a suite would produce them: per subject one version, threshold and group list."""
    config: dict[tuple[str, str], dict[str, Any]] = {
        (suite, subject): {
            "version": draw(st.sampled_from(["v1", "v2"])),
            "threshold": draw(st.none() | st.floats(0, 1)),
            "groups": draw(st.lists(st.sampled_from(GROUPS), unique=True)),
        }
        for suite in SUITES for subject in SUBJECTS
    }
    group_thresholds = {g: draw(st.none() | st.floats(0, 1)) for g in GROUPS}
    keys = draw(st.lists(
        st.tuples(st.sampled_from(MODELS), st.sampled_from(SUITES), st.sampled_from(SUBJECTS), st.integers(0, 30)),
        unique=True, max_size=80,
    ))
    outcomes = st.booleans() | st.sampled_from(["timeout", "HTTP 500"])
    results = []
    for model, suite, subject, i in keys:
        c = config[(suite, subject)]
        groups: list[str] = c["groups"]
        results.append(sample(
            model, subject, str(i), draw(outcomes), suite=suite, version=c["version"], threshold=c["threshold"],
            groups=groups, group_thresholds={g: group_thresholds[g] for g in groups},
        ))
    return results


@settings(deadline=None)  # scipy's first import is slow
@given(payloads(), st.randoms(use_true_random=False))
def test_invariant_under_permutation(results: list[SampleResult], rnd: Any) -> None:
    shuffled = list(results)
    rnd.shuffle(shuffled)
    assert aggregate(shuffled) == aggregate(results)
    assert aggregate(shuffled, models=["m-b", "m-a"]) == aggregate(results, models=["m-b", "m-a"])


@settings(deadline=None)  # scipy's first import is slow
@given(payloads())
def test_counts_add_up(results: list[SampleResult]) -> None:
    summary = aggregate(results)
    per_subject = Counter((r.model, r.suite, r.subject) for r in results)
    assert {(row.model, row.suite, row.name): row.n + row.errors for row in summary.subjects} == dict(per_subject)
    assert sum(row.n for row in summary.subjects) == sum(r.correct is not None for r in results)
    assert sum(row.correct for row in summary.subjects) == sum(r.correct is True for r in results)
    assert sum(row.errors for row in summary.subjects) == len(summary.errors) == sum(r.error is not None for r in results)


@settings(deadline=None)  # scipy's first import is slow
@given(payloads())
def test_score_lies_within_its_interval(results: list[SampleResult]) -> None:
    for row in aggregate(results).rows:
        if row.n == 0:
            assert row.score is row.ci_low is row.ci_high is None
        else:
            assert row.score == row.correct / row.n
            assert row.ci_low is not None and row.ci_high is not None
            assert 0.0 <= row.ci_low <= row.score <= row.ci_high <= 1.0


@settings(deadline=None)  # scipy's first import is slow
@given(payloads())
def test_group_pools_its_member_subjects(results: list[SampleResult]) -> None:
    summary = aggregate(results)
    members = {(r.suite, r.subject, g) for r in results for g in r.groups}
    for group in summary.groups:
        rows = [s for s in summary.subjects
                if (s.model, s.suite) == (group.model, group.suite) and (s.suite, s.name, group.name) in members]
        assert (group.n, group.correct, group.errors) == (
            sum(s.n for s in rows), sum(s.correct for s in rows), sum(s.errors for s in rows)
        )


@settings(deadline=None)  # scipy's first import is slow
@given(payloads())
def test_passed_follows_the_threshold(results: list[SampleResult]) -> None:
    for row in aggregate(results).rows:
        expected = row.threshold is None or (row.score is not None and row.score >= row.threshold - 1e-12)
        assert row.passed is expected


@settings(deadline=None)  # scipy's first import is slow
@given(payloads())
def test_rows_are_sorted_by_suite_name_then_model(results: list[SampleResult]) -> None:
    summary = aggregate(results, models=["m-b"])
    rank = {m: i for i, m in enumerate(summary.models)}
    for rows in (summary.subjects, summary.groups):
        keys = [(r.suite, r.name, rank[r.model]) for r in rows]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_subject_row() -> None:
    results = [sample(id=str(i), outcome=i < 5, threshold=0.5) for i in range(8)] + [sample(id="e", outcome="boom")]
    [row] = aggregate(results).subjects
    assert (row.kind, row.model, row.suite, row.name, row.version) == ("subject", "m", "s", "x", "v1")
    assert (row.n, row.correct, row.errors, row.score, row.threshold, row.passed) == (8, 5, 1, 0.625, 0.5, True)
    assert (row.metric, row.task, row.mode) == ("accuracy", "multiple_choice", "gen")
    assert row.ci_low == pytest.approx(0.3057423946) and row.ci_high == pytest.approx(0.8631557142)


def test_group_row_is_a_micro_average_with_its_own_threshold() -> None:
    member: dict[str, Any] = {"groups": ["stem"], "group_thresholds": {"stem": 0.6}, "threshold": 0.1}
    results = [sample(subject="big", id=str(i), outcome=i < 9, **member) for i in range(10)]
    results += [sample(subject="small", id="0", outcome=False, version="v2", **member)]
    results += [sample(subject="other", id="0")]
    summary = aggregate(results)
    [group] = summary.groups
    assert (group.kind, group.name, group.n, group.correct, group.threshold) == ("group", "stem", 11, 9, 0.6)
    assert group.score == 9 / 11  # pooled, not the mean of 0.9 and 0.0
    assert len(group.version) == 8 and group.version not in ("v1", "v2")
    assert [r.name for r in summary.subjects] == ["big", "other", "small"]


def test_group_version_changes_with_a_member_version() -> None:
    def group_version(version: str) -> str:
        return aggregate([sample(groups=["g"], version=version), sample(subject="y", groups=["g"])]).groups[0].version

    assert group_version("v1") == group_version("v1") != group_version("v2")


def test_disagreeing_samples_join_versions_and_take_the_strictest_threshold() -> None:
    results = [sample(id="0", version="b", threshold=0.3), sample(id="1", version="a", threshold=0.7)]
    [row] = aggregate(results).subjects
    assert (row.version, row.threshold) == ("a+b", 0.7)


def test_repeated_sample_keeps_the_last() -> None:
    [row] = aggregate([sample(outcome="timeout"), sample(outcome=True)]).subjects
    assert (row.n, row.correct, row.errors) == (1, 1, 0)


def test_subject_with_only_errors() -> None:
    summary = aggregate([sample(id="0", outcome="timeout", threshold=0.5), sample(id="1", outcome="HTTP 500", threshold=0.5)])
    [row] = summary.subjects
    assert (row.n, row.errors, row.score, row.ci_low, row.ci_high, row.passed) == (0, 2, None, None, None, False)
    assert [e.id for e in summary.errors] == ["0", "1"]


def test_threshold_met_exactly_despite_float_rounding() -> None:
    results = [sample(id=str(i), outcome=i < 7, threshold=0.7) for i in range(10)]
    assert aggregate(results).subjects[0].passed


def test_models_follow_the_given_order_then_sorted() -> None:
    results = [sample(model) for model in ["z", "b", "a", "c"]]
    assert aggregate(results).models == ["a", "b", "c", "z"]
    assert aggregate(results, models=["z", "absent", "c"]).models == ["z", "c", "a", "b"]
    assert [r.model for r in aggregate(results, models=["z", "c"]).subjects] == ["z", "c", "a", "b"]


def test_fatal_is_the_first_fatal_message() -> None:
    results = [sample(id="1", outcome="HTTP 401: bad key", fatal=True), sample(id="0", outcome="timeout")]
    summary = aggregate(results)
    assert summary.fatal == "HTTP 401: bad key"
    assert aggregate([sample()]).fatal is None


def test_empty() -> None:
    assert aggregate([]) == Summary()


@pytest.mark.parametrize("kind", ["subject", "group"])
def test_record_fields(kind: str) -> None:
    row = Row(kind, "m", "s", "x", "v1", "accuracy", "multiple_choice", "gen", 0, 0, 1, None, None, None, 0.5, False)
    record = row.to_record()
    assert list(record) == [
        "model", "suite", kind, "version", "n", "correct", "score", "ci_low", "ci_high", "threshold", "passed",
        "metric", "mode", "task", "errors", "unparsed", "unparsed_share", "max_unparsed", "unparsed_passed",
        "statistic", "asked", "total", "incomplete", "stopped_early_at",
    ] + ([] if kind == "subject" else ["aggregate", "score_weighted", "score_naive", "members"])
    assert record[kind] == "x" and record["score"] is None


def test_exports() -> None:
    names = pytest_llmeval.results.__all__
    assert names == sorted(names)
    assert {"Row", "Summary", "aggregate", "failures", "wilson_interval"} <= set(names)
    assert all(getattr(pytest_llmeval.results, name) for name in names)


def test_import_is_cheap() -> None:
    code = "import sys, pytest_llmeval.results, pytest_llmeval.report; print(sorted({'scipy', 'pandas', 'numpy'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_nan_never_reaches_a_row() -> None:
    for row in aggregate([sample(outcome="timeout", groups=["g"])]).rows:
        assert not any(isinstance(v, float) and math.isnan(v) for v in row.to_record().values())


def read(subject: str, id: str, *, unparsed: bool = False, correct: bool = False, **kw: Any) -> SampleResult:
    """A reply read by an extraction rule: answered (right or wrong), or unparsed."""
    rule = "echoed options" if unparsed else "opening letter"
    return sample(subject=subject, id=id, outcome=correct and not unparsed, rule=rule, unparsed=unparsed,
                  extracted=None if unparsed else "B", **kw)


def test_the_unparsed_share_counts_scored_replies_with_no_readable_answer() -> None:
    results = [read("x", "1", unparsed=True), read("x", "2", correct=True), read("x", "3"), read("x", "4"),
               sample(subject="x", id="e", outcome="timeout"),  # an error has no reply to read
               sample(subject="x", id="r", outcome=False, rejected="content filter"),  # nor has a refusal
               read("y", "1", groups=["g"]), read("x", "5", unparsed=True, groups=["g"])]
    rows = {r.name: r for r in aggregate(results).rows}
    assert (rows["x"].n, rows["x"].unparsed, rows["x"].unparsed_share) == (6, 2, pytest.approx(2 / 6))
    assert (rows["y"].unparsed, rows["y"].unparsed_share) == (0, 0.0)
    assert (rows["g"].unparsed, rows["g"].unparsed_share, rows["g"].max_unparsed) == (1, 0.5, None)
    assert all(r.unparsed_passed for r in rows.values())


def test_rows_where_no_answer_is_read_have_no_unparsed_share() -> None:
    python_tests = [sample(subject="t", id=str(i), outcome=i % 2 == 0) for i in range(4)]  # no rule: asserts decide
    (row,) = aggregate(python_tests).subjects
    assert (row.unparsed, row.unparsed_share, row.unparsed_passed) == (None, None, True)
    (row,) = aggregate(python_tests, max_unparsed=0.0).subjects
    assert (row.max_unparsed, row.unparsed_passed) == (0.0, True)  # nothing was read, so nothing to gate


@pytest.mark.parametrize(("suite_limit", "run_limit", "limit", "passed"), [
    (None, None, None, True), (0.25, None, 0.25, True), (0.2, None, 0.2, False), (None, 0.2, 0.2, False),
    (0.5, 0.2, 0.2, False), (0.2, 0.5, 0.2, False), (0.3, 0.25, 0.25, True),
])
def test_the_stricter_unparsed_limit_applies(suite_limit: float | None, run_limit: float | None,
                                              limit: float | None, passed: bool) -> None:
    results = [read("x", str(i), unparsed=i == 0, max_unparsed=suite_limit) for i in range(4)]  # 1 of 4
    (row,) = aggregate(results, max_unparsed=run_limit).subjects
    assert (row.max_unparsed, row.unparsed_passed, row.passed) == (limit, passed, True)


def test_a_share_equal_to_its_limit_passes() -> None:
    results = [read("x", str(i), unparsed=i < 1, max_unparsed=0.1) for i in range(10)]
    assert aggregate(results).subjects[0].unparsed_passed


def test_per_sample_metrics_are_averaged_per_subject_and_group() -> None:
    """``mode: cloze`` samples carry every metric; rows report each one's mean over the scored
    samples (errors left out), a naive group the mean of its members' means."""
    rows = [sample(subject="a", id="0", metrics={"acc": 1.0, "acc_norm": 0.0}, groups=["g", "n"],
                   group_aggregates={"n": "naive"}),
            sample(subject="a", id="1", metrics={"acc": 1.0, "acc_norm": 1.0}, groups=["g", "n"],
                   group_aggregates={"n": "naive"}),
            sample(subject="a", id="2", outcome="HTTP 500", groups=["g", "n"], group_aggregates={"n": "naive"}),
            sample(subject="b", id="0", metrics={"acc": 0.0, "acc_norm": 1.0}, groups=["g", "n"],
                   group_aggregates={"n": "naive"})]
    summary = aggregate(rows)
    subjects = {r.name: r for r in summary.subjects}
    groups = {r.name: r for r in summary.groups}
    assert subjects["a"].metrics == {"acc": 1.0, "acc_norm": 0.5} and subjects["b"].metrics == {"acc": 0.0, "acc_norm": 1.0}
    assert groups["g"].metrics == pytest.approx({"acc": 2 / 3, "acc_norm": 2 / 3})
    assert groups["n"].metrics == {"acc": 0.5, "acc_norm": 0.75}
    assert subjects["a"].to_record()["metrics"] == {"acc": 1.0, "acc_norm": 0.5}
    assert "metrics" not in aggregate([sample()]).subjects[0].to_record()
