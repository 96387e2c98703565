"""Sequential early stopping (``results.sequential``): the guarantee, computed exactly over every
order of small subjects and simulated on larger ones, and the properties that hold on any order.

The guarantee is over a uniformly random order: for every population, P(verdict differs from the
full run's) <= alpha. On a fixed order (ones first) nothing can be promised, and a test shows it.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.sequential import RULE, SequentialGate
from pytest_llmeval.results.stats import wilson_interval


def full_verdict(outcomes: Sequence[float], threshold: float) -> str:
    """What the full run says: ``correct / n >= threshold``, as ``results.aggregate`` computes it."""
    return "pass" if sum(outcomes) / len(outcomes) >= threshold else "fail"


def feed(gate: SequentialGate, outcomes: Sequence[float]) -> list[str | None]:
    """The verdict after each outcome."""
    return [gate.update(x) for x in outcomes]


def shuffled(population: list[int], seed: int) -> list[int]:
    order = list(population)
    random.Random(seed).shuffle(order)
    return order


# --- the guarantee -------------------------------------------------------------------------------

def exact_error(n: int, ones: int, threshold: float, alpha: float) -> float:
    """P(verdict differs from the full run's) over all orders of ``ones`` ones among ``n``, exact
    up to float rounding: every distinct prefix is walked once, weighted by its probability under
    a uniform order, and a decided prefix is not walked further."""
    full = "pass" if ones / n >= threshold else "fail"
    wrong = 0.0
    stack = [(SequentialGate(threshold, alpha, n), ones, 1.0)]
    while stack:
        gate, left_ones, probability = stack.pop()
        if gate.verdict is not None:
            wrong += probability * (gate.verdict != full)
            continue
        left = n - gate.asked
        for x, share in ((1, left_ones / left), (0, (left - left_ones) / left)):
            if share > 0:
                child = copy.copy(gate)
                child.update(x)
                stack.append((child, left_ones - x, probability * share))
    return wrong


@pytest.mark.parametrize("alpha", [0.05, 0.25, 0.5])
def test_the_error_over_all_orders_is_at_most_alpha_for_every_small_population(alpha: float) -> None:
    n, worst = 12, 0.0
    for threshold in (1 / 3, 0.5, 7 / 12, 0.75, 0.9):
        for ones in range(n + 1):
            worst = max(worst, exact_error(n, ones, threshold, alpha))
    assert worst <= alpha
    assert worst > 0, "no early verdict was ever wrong: the enumeration checked nothing"


def repeated_wilson(order: list[int], threshold: float) -> str:
    """The naive rule: stop once the 95% Wilson interval so far lies above or below the threshold."""
    correct = 0
    for t, x in enumerate(order, 1):
        correct += x
        low, high = wilson_interval(correct, t)
        if low >= threshold:
            return "pass"
        if high < threshold:
            return "fail"
    return full_verdict(order, threshold)  # asked all: the full run's verdict


def error_share(rule: str, n: int, ones: int, threshold: float, runs: int = 1500) -> tuple[int, int]:
    """(wrong, runs) over seeded random orders of one population with ``ones`` ones."""
    population = [1] * ones + [0] * (n - ones)
    full = full_verdict(population, threshold)
    wrong = 0
    for seed in range(runs):
        order = shuffled(population, seed)
        if rule == "wilson":
            wrong += repeated_wilson(order, threshold) != full
        else:
            gate = SequentialGate(threshold, 0.05, n)
            for x in order:
                if gate.update(x) is not None:
                    break
            wrong += gate.verdict != full
    return wrong, runs


@pytest.mark.parametrize(("n", "ones", "threshold"), [(100, 60, 0.6), (100, 59, 0.6), (100, 89, 0.9)])
def test_a_seeded_simulation_stays_under_alpha_with_margin(n: int, ones: int, threshold: float) -> None:
    """The hardest populations, at and just under the threshold: the error share's 95% upper
    bound is under alpha (benchmarks/early_stop_sim.py runs 10,000 orders per cell)."""
    wrong, runs = error_share("betting", n, ones, threshold)
    assert wilson_interval(wrong, runs)[1] < 0.05, f"{wrong} of {runs} runs differ from the full run"


def test_the_same_simulation_catches_a_repeated_wilson_test() -> None:
    """The check above can fail: looking at a Wilson interval after every sample is wrong far
    more often than 5% on the same population, because it gets a new chance at every look."""
    wrong, runs = error_share("wilson", 100, 60, 0.6)
    assert wilson_interval(wrong, runs)[0] > 0.05, f"only {wrong} of {runs} runs differ"


def test_a_clear_subject_stops_early_and_right() -> None:
    population = [1] * 700 + [0] * 300  # 0.7 against 0.6
    gate = SequentialGate(0.6, 0.05, 1000)
    feed(gate, shuffled(population, 7))
    assert gate.verdict == "pass"
    assert gate.stopped_at is not None and gate.stopped_at < 500
    assert gate.asked == 1000 and gate.e_pass >= 20


def test_a_fixed_order_is_not_covered_ones_first_fools_it() -> None:
    """Why the order must be random: ones first make a failing subject look passing."""
    population = [1] * 590 + [0] * 410  # 0.59 < 0.6: the full run fails
    gate = SequentialGate(0.6, 0.05, 1000)
    feed(gate, population)
    assert gate.verdict == "pass" and gate.stopped_at is not None and gate.stopped_at < 100
    random_order = SequentialGate(0.6, 0.05, 1000)
    feed(random_order, shuffled(population, 1))
    assert random_order.verdict == "fail"


# --- properties on any order ---------------------------------------------------------------------

ORDERS = ("as drawn", "ones first", "zeros first", "alternating")


def arrange(population: list[float], how: str) -> list[float]:
    """Adversarial orders of one population, besides the order hypothesis drew."""
    if how == "ones first":
        return sorted(population, reverse=True)
    if how == "zeros first":
        return sorted(population)
    if how == "alternating":
        high, low = sorted(population, reverse=True), sorted(population)
        return [(high if i % 2 == 0 else low)[i // 2] for i in range(len(population))]
    return population


@st.composite
def subjects(draw: st.DrawFn) -> tuple[list[float], float, float]:
    """(outcomes in the order fed, threshold, alpha): 0/1 or fractional scores, thresholds
    anywhere including ties with the mean and values outside [0, 1]."""
    score = (st.integers(0, 1) | st.floats(0, 1)) if draw(st.booleans()) else st.integers(0, 1)
    population = draw(st.lists(score, min_size=1, max_size=300))
    outcomes = arrange(population, draw(st.sampled_from(ORDERS)))
    threshold = draw(st.floats(-0.2, 1.2) | st.sampled_from([0.0, 0.5, 0.6, 0.9, 1.0])
                     | st.just(sum(outcomes) / len(outcomes)))
    return outcomes, threshold, draw(st.floats(0.001, 0.999) | st.sampled_from([0.05, 0.01]))


@settings(deadline=None)
@given(subjects())
@example(([0, 0, 0.0193, 1], (0.0193 + 1) / 4, 0.5))  # a tie: 0.0193 + 4 - 3 rounds above 0.0193 + 1
def test_a_verdict_never_changes_and_the_last_one_is_the_full_runs_unless_a_bet_won(
        subject: tuple[list[float], float, float]) -> None:
    outcomes, threshold, alpha = subject
    gate = SequentialGate(threshold, alpha, len(outcomes))
    verdicts = [gate.verdict, *feed(gate, outcomes)]
    first = next(i for i, v in enumerate(verdicts) if v is not None)
    assert set(verdicts[first:]) == {gate.verdict} and set(verdicts[:first]) <= {None}
    assert gate.stopped_at == first and gate.asked == len(outcomes)
    assert math.isfinite(gate.e_pass) and math.isfinite(gate.e_fail)
    assert gate.e_pass >= 0 and gate.e_fail >= 0
    if gate.verdict != full_verdict(outcomes, threshold):
        winner = gate.e_pass if gate.verdict == "pass" else gate.e_fail
        assert winner >= 1 / alpha, "a verdict from the counts alone must be the full run's"


@settings(deadline=None)
@given(subjects(), st.integers(0, 300))
def test_the_state_survives_json_at_any_step_and_goes_on_identically(
        subject: tuple[list[float], float, float], cut: int) -> None:
    outcomes, threshold, alpha = subject
    cut = min(cut, len(outcomes))
    straight = SequentialGate(threshold, alpha, len(outcomes))
    feed(straight, outcomes)
    resumed = SequentialGate(threshold, alpha, len(outcomes))
    feed(resumed, outcomes[:cut])
    resumed = SequentialGate.from_dict(json.loads(json.dumps(resumed.to_dict(), allow_nan=False)))
    feed(resumed, outcomes[cut:])
    assert resumed.to_dict() == straight.to_dict()


@settings(deadline=None)
@given(subjects())
def test_scores_mirrored_against_the_mirrored_threshold_mirror_the_bets(
        subject: tuple[list[float], float, float]) -> None:
    """x -> 1 - x with c -> 1 - c turns the bet on "pass" into the bet on "fail", step by step.
    The verdicts mirror too, except where a count reaches the threshold exactly (a tie passes
    both ways) or an e-value sits on 1/alpha within rounding."""
    outcomes, threshold, alpha = subject
    gate = SequentialGate(threshold, alpha, len(outcomes))
    mirror = SequentialGate(1 - threshold, alpha, len(outcomes))
    near = at_a_bound(gate, threshold)
    for x in outcomes:
        gate.update(x)
        mirror.update(1 - x)
        assert gate.e_pass == pytest.approx(mirror.e_fail, rel=1e-9)
        assert gate.e_fail == pytest.approx(mirror.e_pass, rel=1e-9)
        near |= any(abs(e * alpha - 1) < 1e-9 for e in (gate.e_pass, gate.e_fail)) or at_a_bound(gate, threshold)
    if not near:
        flipped = {"pass": "fail", "fail": "pass"}
        assert (mirror.verdict, mirror.stopped_at) == (flipped[gate.verdict or ""], gate.stopped_at)


def at_a_bound(gate: SequentialGate, threshold: float) -> bool:
    """The sum so far, or that sum with every remaining sample right, is N * threshold (within
    rounding): certain for the side that includes the tie (>= c), not yet for the mirrored one."""
    total, so_far = gate.total, float(gate.to_dict()["sum"])
    return any(abs(s - total * threshold) <= 1e-9 * total for s in (so_far, so_far + total - gate.asked))


# --- edges and bad input -------------------------------------------------------------------------

def test_thresholds_outside_the_scores_are_decided_before_any_sample() -> None:
    assert (SequentialGate(0.0, 0.05, 10).verdict, SequentialGate(0.0, 0.05, 10).stopped_at) == ("pass", 0)
    assert (SequentialGate(1.01, 0.05, 10).verdict, SequentialGate(1.01, 0.05, 10).stopped_at) == ("fail", 0)


def test_a_threshold_of_one_needs_every_sample_right_and_one_miss_fails_it() -> None:
    gate = SequentialGate(1.0, 0.05, 50)
    assert feed(gate, [1] * 49)[-1] is None
    assert gate.update(1) == "pass" and gate.stopped_at == 50
    missed = SequentialGate(1.0, 0.05, 50)
    assert feed(missed, [1, 1, 0]) == [None, None, "fail"]


def test_a_tie_with_the_threshold_passes() -> None:
    gate = SequentialGate(0.5, 0.05, 4)
    feed(gate, [1, 0, 1, 0])
    assert gate.verdict == "pass"


def test_bools_and_numpy_integers_keep_the_sum_an_exact_integer() -> None:
    import numpy as np

    outcomes: list[Any] = [True, np.int64(1), 1]
    exact = SequentialGate(0.9, 0.05, 10)
    feed(exact, outcomes)
    assert type(exact.to_dict()["sum"]) is int
    feed(exact, [np.float64(0.5)])
    assert exact.to_dict()["sum"] == 3.5


def test_outcomes_after_the_verdict_are_counted_and_change_nothing() -> None:
    gate = SequentialGate(0.5, 0.05, 6)
    feed(gate, [1, 1, 1])  # 3 of 6 already: the full run passes whatever comes
    state = gate.to_dict()
    feed(gate, [0, 0])
    assert (gate.verdict, gate.stopped_at, gate.asked) == ("pass", 3, 5)
    assert (gate.e_pass, gate.e_fail) == (state["e_pass"], state["e_fail"])


@pytest.mark.parametrize(("args", "message"), [
    ((math.nan, 0.05, 10), "threshold: expected a finite number, got nan"),
    ((0.6, 0.0, 10), "alpha: expected a level strictly between 0 and 1, got 0.0"),
    ((0.6, 1, 10), "alpha: expected a level strictly between 0 and 1, got 1"),
    ((0.6, 0.05, 0), "total: expected the number of samples, an integer >= 1, got 0"),
    ((0.6, 0.05, True), "total: expected the number of samples, an integer >= 1, got True"),
    ((0.6, 0.05, 10.0), "total: expected the number of samples, an integer >= 1, got 10.0"),
])
def test_bad_settings_are_one_line_naming_the_field(args: tuple[float, float, int], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SequentialGate(*args)
    assert str(caught.value) == message


@pytest.mark.parametrize("outcome", [1.5, -0.1, math.nan, "1", None])
def test_an_outcome_outside_zero_to_one_is_refused(outcome: object) -> None:
    with pytest.raises(ValueError, match="^outcome: expected a score from 0 to 1, got "):
        SequentialGate(0.6, 0.05, 10).update(outcome)  # type: ignore[arg-type]


def test_more_outcomes_than_samples_are_refused() -> None:
    gate = SequentialGate(0.6, 0.05, 2)
    feed(gate, [1, 1])
    with pytest.raises(ValueError, match="^outcome: all 2 samples were already counted$"):
        gate.update(1)


@pytest.mark.parametrize(("change", "message"), [
    ({"rule": "other/1"}, f"rule: expected {RULE!r}, got 'other/1'"),
    ({"asked": 11}, "asked: expected an integer from 0 to 10, got 11"),
    ({"sum": 4}, "sum: expected a number from 0 to 3, got 4"),
    ({"e_pass": -1.0}, "e_pass: expected a number from 0 to inf, got -1.0"),
    ({"verdict": "maybe"}, "verdict: expected 'pass', 'fail' or null, got 'maybe'"),
    ({"stopped_at": 2}, "stopped_at: expected a count exactly when there is a verdict, got 2"),
])
def test_a_bad_saved_state_names_its_field(change: dict[str, object], message: str) -> None:
    gate = SequentialGate(0.6, 0.05, 10)
    feed(gate, [1, 0, 1])
    with pytest.raises(ValueError) as caught:
        SequentialGate.from_dict(gate.to_dict() | change)
    assert str(caught.value) == message
