"""The Wilson interval against scipy's, an independent implementation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.stats import mcnemar_exact, naive_interval, wilson_interval


def closed_form_wilson(k: int, n: int, level: float) -> tuple[float, float]:
    """scipy's Wilson interval (the plugin computes the closed form itself, without scipy)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=1_000_000))
    return draw(st.integers(min_value=0, max_value=n)), n


@settings(deadline=None)  # the first call imports scipy
@given(counts(), st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999]))
def test_matches_closed_form_and_contains_the_proportion(kn: tuple[int, int], level: float) -> None:
    k, n = kn
    low, high = wilson_interval(k, n, level)
    expected_low, expected_high = closed_form_wilson(k, n, level)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 1, 0.0, 0.7934506856),
        (1, 1, 0.2065493143, 1.0),
        (5, 8, 0.3057423946, 0.8631557142),
        (50, 100, 0.4038315304, 0.5961684696),
    ],
)
def test_known_values(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-9)


def test_wider_at_higher_level() -> None:
    narrow, wide = wilson_interval(7, 20, 0.8), wilson_interval(7, 20, 0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_nothing_scored_is_undefined() -> None:
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3)])
def test_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= correct <= n"):
        wilson_interval(k, n)


@settings(deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000))
def test_mcnemar_exact_matches_scipys_binomial_test(b: int, c: int) -> None:
    from scipy.stats import binomtest

    expected = 1.0 if b + c == 0 else float(binomtest(min(b, c), b + c, 0.5).pvalue)
    if expected < 1e-290:  # scipy underflows to 0 sooner than the exact sum does
        assert mcnemar_exact(b, c) < 1e-280
    else:
        assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
    assert mcnemar_exact(b, c) == mcnemar_exact(c, b)  # symmetric in the two directions


@pytest.mark.parametrize(("b", "c", "p"), [(0, 0, 1.0), (5, 0, 0.0625), (6, 0, 0.03125), (10, 1, 0.01171875), (3, 3, 1.0)])
def test_mcnemar_exact_known_values(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == p


def test_mcnemar_exact_is_exact_for_large_counts() -> None:
    assert 0 < mcnemar_exact(20_000, 19_000) < 1e-6
    assert mcnemar_exact(50_000, 0) == 0.0  # below the smallest float: exactly zero, never an error


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 200)).map(lambda t: (min(t), t[1])),
                min_size=1, max_size=20))
def test_naive_interval_contains_the_mean_of_scores(counts: list[tuple[int, int]]) -> None:
    low, high = naive_interval(counts)
    mean = sum(c / n for c, n in counts) / len(counts)
    assert 0.0 <= low <= mean <= high <= 1.0
    assert high - low > 0  # an all-right subject still has uncertainty


def test_naive_interval_of_nothing_is_undefined() -> None:
    assert all(math.isnan(x) for x in naive_interval([(0, 0)]))
