"""Paired comparison with a baseline, as pure computation: counts, deltas, p-values and flips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.baseline import Baseline, SuiteEntry, load_baseline, updated_baseline, write_baseline
from pytest_llmeval.results.compare import compare
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.stats import mcnemar_exact


def sample(subject: str, id: str, correct: bool, model: str = "m", version: str = "v1",
           groups: tuple[str, ...] = ("g",), aggregate: str = "weighted") -> SampleResult:
    return SampleResult(model=model, suite="s", subject=subject, id=id, version=version, nodeid=f"s::{subject}::{id}",
                        groups=list(groups), group_aggregates={g: aggregate for g in groups},
                        prompt=f"prompt {id}", reply="B" if correct else "C", extracted="B" if correct else "C",
                        target="B", correct=correct)


def baseline_of(results: list[SampleResult], tmp_path: Path) -> Baseline:
    path = tmp_path / "baseline.json"
    write_baseline(path, updated_baseline(None, results, aggregate(results), "test"))
    return load_baseline(path)


outcomes = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60)


@given(outcomes, outcomes)
def test_counts_delta_and_p_follow_the_pairs(first: list[tuple[bool, bool]], second: list[tuple[bool, bool]]) -> None:
    import tempfile

    pairs = {"a": first, "b": second}
    before = [sample(s, str(i), was) for s, items in pairs.items() for i, (was, _) in enumerate(items)]
    after = [sample(s, str(i), now) for s, items in pairs.items() for i, (_, now) in enumerate(items)]
    with tempfile.TemporaryDirectory() as folder:
        baseline = baseline_of(before, Path(folder))
    outcome = compare(aggregate(after), after, baseline, tolerance=0.0, significance=0.05)
    by_name = {c.name: c for c in outcome.comparisons}
    for name, items in pairs.items():
        c = by_name[name]
        worse = sum(w and not n for w, n in items)
        better = sum(n and not w for w, n in items)
        assert (c.right_to_wrong, c.wrong_to_right, c.n_paired) == (worse, better, len(items))
        assert c.delta == pytest.approx((better - worse) / len(items))
        assert c.p_value == mcnemar_exact(worse, better)
        assert c.regressed == (c.p_value < 0.05 and c.delta < 0)
    group = by_name["g"]
    assert group.right_to_wrong == by_name["a"].right_to_wrong + by_name["b"].right_to_wrong
    assert group.n_paired == len(first) + len(second)
    assert len(outcome.flips) == sum(c.right_to_wrong + c.wrong_to_right for c in (by_name["a"], by_name["b"]))
    directions = [f.direction for f in outcome.flips]
    assert directions == sorted(directions, key=lambda d: d != "right_to_wrong")


def test_a_naive_group_compares_the_mean_of_its_members(tmp_path: Path) -> None:
    before = [sample("a", str(i), True, aggregate="naive") for i in range(10)] + \
             [sample("b", "0", True, aggregate="naive")]
    after = [sample("a", str(i), True, aggregate="naive") for i in range(10)] + \
            [sample("b", "0", False, aggregate="naive")]
    outcome = compare(aggregate(after), after, baseline_of(before, tmp_path), 0.0, 0.05)
    group = next(c for c in outcome.comparisons if c.kind == "group")
    assert (group.baseline_score, group.score, group.delta) == (1.0, 0.5, -0.5)  # weighted would be -1/11


def test_only_samples_in_both_runs_are_paired(tmp_path: Path) -> None:
    before = [sample("a", str(i), True) for i in range(6)]
    after = [sample("a", str(i), False) for i in range(3, 9)]  # 3..5 in both; 6..8 new
    (c, _) = compare(aggregate(after), after, baseline_of(before, tmp_path), 0.0, 0.05).comparisons
    assert (c.n_paired, c.right_to_wrong, c.baseline_score, c.score) == (3, 3, 1.0, 0.0)


@pytest.mark.parametrize(("change", "status", "reason"), [
    ({"version": "v2"}, "not_comparable", "version v1 in the baseline, v2 now"),
    ({"model": "other"}, "compared", None),  # the baseline's only model
])
def test_status(tmp_path: Path, change: dict[str, Any], status: str, reason: str | None) -> None:
    before = [sample("a", str(i), True) for i in range(4)]
    after = [sample("a", str(i), True, **change) for i in range(4)]
    c = compare(aggregate(after), after, baseline_of(before, tmp_path), 0.0, 0.05).comparisons[0]
    assert (c.status, c.reason) == (status, reason)


def test_a_model_missing_from_a_baseline_of_several_is_new(tmp_path: Path) -> None:
    before = [sample("a", "0", True, model="x"), sample("a", "0", True, model="y")]
    after = [sample("a", "0", True, model="z")]
    c = compare(aggregate(after), after, baseline_of(before, tmp_path), 0.0, 0.05).comparisons[0]
    assert c.status == "no_baseline" and c.reason == "model z is not in the baseline (it has x, y)"


def test_updating_replaces_subjects_run_and_keeps_the_rest(tmp_path: Path) -> None:
    first = [sample("a", "0", True), sample("b", "0", True)]
    baseline = baseline_of(first, tmp_path)
    again = updated_baseline(baseline, [sample("a", "0", False)], aggregate([sample("a", "0", False)]), "test")
    subjects = again["models"]["m"]["s"]["subjects"]
    assert subjects["a"]["samples"]["0"]["correct"] is False and subjects["b"]["samples"]["0"]["correct"] is True


def test_suite_entry_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError):
        SuiteEntry.model_validate({"subjects": {}, "extra": 1})
