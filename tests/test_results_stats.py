"""The Wilson interval against scipy's, an independent implementation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.stats import wilson_interval


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
