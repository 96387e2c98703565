"""Graded per-sample scores (a ROUGE F1, a judge's scale, pass@1 over repeats): the subject's mean
with a bootstrap interval, groups of graded subjects, the baseline that keeps each sample's score,
and the paired permutation test that plays McNemar's role for them."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.baseline import load_baseline, updated_baseline, write_baseline
from pytest_llmeval.results.bootstrap import bootstrap_interval
from pytest_llmeval.results.compare import compare, regression_line
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.stats import mcnemar_exact, naive_mean_interval, paired_permutation


def graded(subject: str, id: str, score: float, pass_at: float = 0.5, aggregate: str = "mean",
           groups: tuple[str, ...] = ("g",), group_aggregate: str = "weighted") -> SampleResult:
    result = SampleResult(model="m", suite="s", subject=subject, id=id, version="v1", nodeid=f"s::{subject}::{id}",
                          task="rouge", metric="rougeL", aggregate=aggregate, groups=list(groups),
                          group_aggregates={g: group_aggregate for g in groups}, reply=f"reply {id}")
    result.set_verdict(score >= pass_at, score)
    return result


def brute_force(differences: list[float]) -> float:
    """Every sign pattern, counted directly: the definition the exact branch must meet."""
    values = [d for d in differences if d != 0]
    observed = abs(math.fsum(values))
    hits = sum(abs(math.fsum(s * v for s, v in zip(signs, values))) >= observed - 1e-9
               for signs in itertools.product((1, -1), repeat=len(values)))
    return hits / 2 ** len(values) if values else 1.0


scores = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda x: round(x, 3))


@given(st.lists(st.floats(min_value=-1, max_value=1, allow_nan=False), max_size=10))
def test_the_exact_permutation_p_counts_every_sign_pattern(differences: list[float]) -> None:
    assert paired_permutation(differences) == pytest.approx(brute_force(differences), abs=1e-12)


@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 20))
def test_for_right_wrong_samples_it_is_mcnemars_exact_test(worse: int, better: int, same: int) -> None:
    """A right -> wrong flip is a difference of -1, wrong -> right +1, unchanged 0: the sign-flip
    distribution of the sum is then McNemar's binomial, so both tests give the same p."""
    differences = [-1.0] * worse + [1.0] * better + [0.0] * same
    assert paired_permutation(differences) == pytest.approx(mcnemar_exact(worse, better), abs=1e-12)


def test_the_sampled_p_is_close_to_the_exact_one_and_the_same_in_any_order() -> None:
    rnd = random.Random(7)
    differences = [rnd.uniform(-0.3, 0.2) for _ in range(18)]  # 2^18 patterns: sampled by default
    exact = paired_permutation(differences, permutations=1 << 18)
    sampled = paired_permutation(differences)
    assert sampled == pytest.approx(exact, abs=0.015)
    assert paired_permutation(rnd.sample(differences, len(differences))) == sampled
    assert paired_permutation([0.0, 0.0]) == paired_permutation([]) == 1.0
    with pytest.raises(ValueError, match="finite"):
        paired_permutation([math.inf, 0.1] * 10)


@settings(max_examples=60)
@given(st.lists(st.lists(scores, min_size=1, max_size=8), min_size=1, max_size=5))
def test_the_naive_interval_of_means_contains_the_mean(members: list[list[float]]) -> None:
    low, high = naive_mean_interval(members)
    mean = math.fsum(math.fsum(m) / len(m) for m in members) / len(members)
    assert 0 <= low <= mean + 1e-12 and mean - 1e-12 <= high <= 1


def test_a_graded_subject_is_the_mean_with_its_bootstrap_interval() -> None:
    values = [0.2, 0.9, 0.45, 0.7, 0.0, 1.0, 0.33]
    results = [graded("x", str(i), v) for i, v in enumerate(values)]
    row = aggregate(results).subjects[0]
    assert row.statistic == "mean" and row.metric == "rougeL"
    assert row.score == pytest.approx(sum(values) / len(values))
    assert (row.ci_low, row.ci_high) == bootstrap_interval(values)
    assert (row.n, row.correct) == (7, 3)  # three reached the pass mark of 0.5
    assert aggregate(list(reversed(results))).subjects[0] == row
    assert row.to_record()["statistic"] == "mean"


def test_groups_average_graded_scores_weighted_and_naive() -> None:
    results = [graded("a", "1", 1.0), graded("a", "2", 0.5), graded("b", "1", 0.0)]
    weighted = aggregate(results).groups[0]
    assert weighted.score == pytest.approx(0.5) and weighted.score_naive == pytest.approx(0.375)
    naive = aggregate([graded(r.subject, r.id, r.points() or 0.0, group_aggregate="naive") for r in results]).groups[0]
    assert naive.score == pytest.approx(0.375)
    assert (naive.ci_low, naive.ci_high) == naive_mean_interval([[1.0, 0.5], [0.0]])


def test_a_right_wrong_subject_in_a_graded_group_counts_one_or_zero() -> None:
    results = [graded("a", "1", 0.25), SampleResult(model="m", suite="s", subject="b", id="1", version="v1",
                                                    nodeid="b", groups=["g"], group_aggregates={"g": "weighted"})]
    results[1].set_verdict(True)
    summary = aggregate(results)
    assert [r.statistic for r in summary.subjects] == ["mean", "proportion"]
    assert summary.groups[0].statistic == "mean" and summary.groups[0].score == pytest.approx(0.625)


def test_records_without_scores_count_right_as_one() -> None:
    """samples.jsonl written before scores were carried still merge: ``points`` falls back."""
    old = SampleResult.from_record({**graded("x", "1", 1.0).sample_record(), "score": None, "aggregate": "proportion"})
    assert old.points() == 1.0 and aggregate([old]).subjects[0].score == 1.0


def test_the_baseline_keeps_graded_scores_only(tmp_path: Path) -> None:
    before = [graded("x", str(i), v) for i, v in enumerate([0.8, 0.6, 0.7])]
    plain = SampleResult(model="m", suite="s", subject="y", id="1", version="v1", nodeid="y")
    plain.set_verdict(True)
    path = tmp_path / "baseline.json"
    write_baseline(path, updated_baseline(None, [*before, plain], aggregate([*before, plain]), "test"))
    subjects = json.loads(path.read_text())["models"]["m"]["s"]["subjects"]
    assert subjects["x"]["samples"]["1"]["score"] == 0.6
    assert "score" not in subjects["y"]["samples"]["1"]
    again = tmp_path / "again.json"  # a kept entry is written back exactly as it was read
    write_baseline(again, updated_baseline(load_baseline(path), [], aggregate([]), "test"))
    assert json.loads(again.read_text())["models"] == json.loads(path.read_text())["models"]


def test_a_graded_drop_is_a_regression_by_the_permutation_test(tmp_path: Path) -> None:
    rnd = random.Random(3)
    was = [round(rnd.uniform(0.4, 0.9), 3) for _ in range(40)]
    now = [max(0.0, round(v - rnd.uniform(0.0, 0.2), 3)) for v in was]
    before = [graded("x", str(i), v) for i, v in enumerate(was)]
    after = [graded("x", str(i), v) for i, v in enumerate(now)]
    path = tmp_path / "baseline.json"
    write_baseline(path, updated_baseline(None, before, aggregate(before), "test"))
    result = compare(aggregate(after), after, load_baseline(path), tolerance=0.01, significance=0.05)
    subject = next(c for c in result.comparisons if c.kind == "subject")
    assert subject.test == "permutation"
    assert subject.baseline_score == pytest.approx(sum(was) / 40) and subject.score == pytest.approx(sum(now) / 40)
    assert subject.p_value == paired_permutation([n - w for n, w in zip(now, was)])
    assert subject.regressed and "paired permutation p=" in regression_line(subject)
    same = compare(aggregate(before), before, load_baseline(path), tolerance=0.01, significance=0.05)
    assert not any(c.regressed or c.improved for c in same.comparisons)
    assert all(c.p_value == 1.0 for c in same.comparisons)
