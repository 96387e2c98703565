"""pass@k against the exact combinatorial formula, the paper's numpy code and known values."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.scoring.passk import mean_pass_at_k, pass_at_k


def exact(n: int, c: int, k: int) -> Fraction:
    """Eq. 1 of Chen et al. (2021) in exact rational arithmetic."""
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def paper_numpy(n: int, c: int, k: int) -> float:
    """The numpy estimator printed in the paper (fig. 3) and shipped in openai/human-eval."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@st.composite
def nck(draw: st.DrawFn, max_n: int = 400) -> tuple[int, int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    return n, draw(st.integers(min_value=0, max_value=n)), draw(st.integers(min_value=1, max_value=n))


@settings(deadline=None)  # exact rationals of hundreds of digits: slow on a loaded machine, not wrong
@given(nck())
def test_equals_the_exact_formula(case: tuple[int, int, int]) -> None:
    n, c, k = case
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-12, abs=1e-15)


@settings(deadline=None)
@given(nck(max_n=2000))
def test_equals_the_papers_numpy_code(case: tuple[int, int, int]) -> None:
    n, c, k = case
    assert pass_at_k(n, c, k) == pytest.approx(paper_numpy(n, c, k), rel=1e-12, abs=1e-15)


@settings(deadline=None)
@given(nck())
def test_is_a_probability_that_grows_with_k_and_c(case: tuple[int, int, int]) -> None:
    n, c, k = case
    value = pass_at_k(n, c, k)
    assert 0.0 <= value <= 1.0
    if k < n:
        assert pass_at_k(n, c, k + 1) >= value
    if c < n:
        assert pass_at_k(n, c + 1, k) >= value


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (1, 0, 1, 0.0),
    (1, 1, 1, 1.0),
    (10, 3, 1, 0.3),                   # pass@1 is the fraction correct
    (5, 2, 2, 0.7),                    # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 1, 10, 1.0),                  # every draw of all 10 holds the correct one
    (200, 0, 100, 0.0),
    (200, 1, 100, 0.5),                # C(199,100)/C(200,100) = 100/200
    (200, 2, 100, 1 - (100 * 99) / (200 * 199)),
    (4, 3, 2, 1.0),                    # one wrong reply: any pair holds a correct one
])
def test_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12)


def test_stable_where_binomials_overflow_floats() -> None:
    n, c, k = 5000, 37, 1000  # C(5000, 1000) has over 1000 digits, past any float
    with pytest.raises(OverflowError):
        float(math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-12)


def test_unbiased_where_the_naive_formula_is_not() -> None:
    """The estimator's mean over every way to draw n replies equals the true pass@k; plugging the
    observed rate into 1 - (1 - p)^k does not. True p = 0.3, n = 5, k = 2: exact enumeration."""
    p, n, k = Fraction(3, 10), 5, 2
    weights = [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]
    unbiased = sum(w * exact(n, c, k) for c, w in enumerate(weights))
    naive = sum(w * (1 - (1 - Fraction(c, n)) ** k) for c, w in enumerate(weights))
    truth = 1 - (1 - p) ** k
    assert unbiased == truth
    assert naive != truth
    assert sum(w * Fraction(pass_at_k(n, c, k)) for c, w in enumerate(weights)) == pytest.approx(float(truth))


def test_mean_over_problems() -> None:
    assert mean_pass_at_k([(10, 3), (10, 0), (5, 5)], 1) == pytest.approx((0.3 + 0.0 + 1.0) / 3)
    assert mean_pass_at_k([(5, 2), (4, 3)], 2) == pytest.approx((0.7 + 1.0) / 2)
    assert math.isnan(mean_pass_at_k([], 1))


@pytest.mark.parametrize(("n", "c", "k", "needle"), [
    (5, 6, 1, "0 <= c <= n"),
    (5, -1, 1, "0 <= c <= n"),
    (5, 2, 6, "pass@6 needs 1 <= k <= n"),
    (5, 2, 0, "pass@0 needs"),
])
def test_impossible_counts_are_refused(n: int, c: int, k: int, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        pass_at_k(n, c, k)
