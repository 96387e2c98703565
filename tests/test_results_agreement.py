"""Calibration statistics against scikit-learn, and the pairwise sign test against scipy."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.agreement import UNPARSED, calibrate, cohen_kappa, confusion_matrix
from pytest_llmeval.results.pairwise import PairwiseTally, tally
from pytest_llmeval.results.stats import mcnemar_exact

CALIBRATION_SET = Path(__file__).resolve().parents[1] / "example_suites" / "data" / "judge_calibration.jsonl"
SCALE = ["1", "2", "3", "4", "5"]


@st.composite
def two_raters(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    labels = SCALE[: draw(st.integers(2, 5))]
    n = draw(st.integers(1, 80))
    rater = st.lists(st.sampled_from(labels), min_size=n, max_size=n)
    return draw(rater), draw(rater), labels


@settings(deadline=None, max_examples=150)
@given(two_raters(), st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_and_matrix_are_scikit_learns(raters: tuple[list[str], list[str], list[str]], weights: str | None) -> None:
    import warnings

    from sklearn.metrics import cohen_kappa_score
    from sklearn.metrics import confusion_matrix as sk_confusion

    truth, predicted, labels = raters
    assert confusion_matrix(truth, predicted, labels) == sk_confusion(truth, predicted, labels=labels).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns where kappa is undefined, and returns nan
        expected = cohen_kappa_score(truth, predicted, labels=labels, weights=weights)
    ours = cohen_kappa(truth, predicted, labels, weights)  # type: ignore[arg-type]
    assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("truth", "predicted", "kappa"), [
    (["PASS", "FAIL", "PASS", "FAIL"], ["PASS", "FAIL", "PASS", "FAIL"], 1.0),
    (["PASS", "PASS", "FAIL", "FAIL"], ["PASS", "FAIL", "PASS", "FAIL"], 0.0),
    (["PASS"] * 8 + ["FAIL"] * 2, ["PASS"] * 10, 0.0),  # 80% agreement, no better than chance
])
def test_kappa_known_values(truth: list[str], predicted: list[str], kappa: float) -> None:
    assert cohen_kappa(truth, predicted, ["PASS", "FAIL"]) == kappa


def test_kappa_is_undefined_when_chance_agrees_perfectly() -> None:
    assert math.isnan(cohen_kappa(["PASS"] * 3, ["PASS"] * 3, ["PASS", "FAIL"]))
    assert math.isnan(cohen_kappa([], [], ["PASS", "FAIL"]))


def shipped_labels() -> tuple[list[str], list[str]]:
    records = [json.loads(line) for line in CALIBRATION_SET.read_text(encoding="utf-8").splitlines()]
    return [r["label"] for r in records], [str(r["score"]) for r in records]


def test_a_scripted_judge_gets_the_agreement_it_was_built_with() -> None:
    """On the shipped set: a judge that flips exactly 9 of the person's verdicts and leaves 6
    unread agrees on n - 15, and its kappa is scikit-learn's with unparsed as a label of its own."""
    from sklearn.metrics import cohen_kappa_score

    human, _ = shipped_labels()
    n = len(human)
    order = random.Random(19).sample(range(n), n)
    flipped, unread = set(order[:9]), set(order[9:15])
    judge: list[str | None] = [None if i in unread else ({"PASS": "FAIL", "FAIL": "PASS"}[h] if i in flipped else h)
                               for i, h in enumerate(human)]
    result = calibrate(human, judge, ["PASS", "FAIL"], ordinal=False)
    assert (result.n, result.unparsed, result.agreement) == (n, 6, (n - 15) / n)
    read = [UNPARSED if j is None else j for j in judge]
    assert result.kappa == pytest.approx(cohen_kappa_score(human, read, labels=["PASS", "FAIL", UNPARSED]), abs=1e-12)
    assert result.weighted_kappa is None
    assert sum(map(sum, result.confusion)) == n and [row[2] for row in result.confusion] == [
        sum(1 for i in unread if human[i] == label) for label in ("PASS", "FAIL")]


def test_a_scale_judge_one_point_off_keeps_a_high_weighted_kappa() -> None:
    from sklearn.metrics import cohen_kappa_score

    _, human = shipped_labels()
    judge: list[str | None] = [str(min(5, int(h) + 1)) if i % 3 == 0 else h for i, h in enumerate(human)]
    judge[1] = None
    result = calibrate(human, judge, SCALE, ordinal=True)
    parsed = [(h, j) for h, j in zip(human, judge) if j is not None]
    expected = cohen_kappa_score([h for h, _ in parsed], [j for _, j in parsed], labels=SCALE, weights="quadratic")
    assert result.weighted_kappa == pytest.approx(expected, abs=1e-12)
    assert result.weighted_kappa is not None and result.weighted_kappa > result.kappa  # near misses count less
    assert result.unparsed == 1 and len(result.confusion) == 5 and len(result.confusion[0]) == 6


def test_bad_verdicts_are_errors_not_drops() -> None:
    with pytest.raises(ValueError, match="human verdict 'pass' is not one of PASS, FAIL"):
        calibrate(["pass"], ["PASS"], ["PASS", "FAIL"], ordinal=False)
    with pytest.raises(ValueError, match="verdict '6' is not one of"):
        calibrate(["5"], ["6"], SCALE, ordinal=True)
    with pytest.raises(ValueError, match="2 human verdicts against 1"):
        calibrate(["PASS", "FAIL"], ["PASS"], ["PASS", "FAIL"], ordinal=False)


# ---- pairwise sign test -----------------------------------------------------------------------

@settings(deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.integers(0, 50), st.integers(0, 50))
def test_sign_test_is_scipys_binomial_test_on_decided_pairs(wins: int, losses: int, ties: int, unparsed: int) -> None:
    from scipy.stats import binomtest

    result = tally(["win"] * wins + ["loss"] * losses + ["tie"] * ties + ["unparsed"] * unparsed)
    assert result == PairwiseTally(wins, ties, losses, unparsed)
    expected = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5).pvalue)
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert result.p_value == mcnemar_exact(losses, wins)  # the one implementation, reused


def test_ties_and_unparsed_do_not_dilute_a_loss() -> None:
    alone, diluted = tally(["loss"] * 9 + ["win"]), tally(["loss"] * 9 + ["win"] + ["tie"] * 200 + ["unparsed"] * 30)
    assert alone.p_value == diluted.p_value == mcnemar_exact(9, 1)
    assert diluted.significant_loss(0.05) and not tally(["win"] * 9 + ["loss"]).significant_loss(0.05)
    assert not tally(["loss"] * 4 + ["win"]).significant_loss(0.05)  # p = 0.375: could be chance


def test_unknown_outcomes_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown pairwise outcome 'draw' \\(expected one of win, tie, loss, unparsed\\)"):
        tally(["win", "draw"])
