"""The bootstrap interval against scipy.stats.bootstrap, an independent implementation that draws
the same resamples from the same seed."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.results.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, batch_rows, bootstrap_interval, mean_score


def scipy_interval(scores: list[float], method: str, level: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                   seed: int = DEFAULT_SEED) -> tuple[float, float]:
    from scipy.stats import bootstrap

    data = np.sort(np.asarray(scores, dtype=np.float64))
    with warnings.catch_warnings():  # scipy warns, and gives nan, where BCa is undefined: the caller checks
        warnings.simplefilter("ignore")
        result = bootstrap((data,), np.mean, confidence_level=level, n_resamples=n_resamples, method=method,
                           rng=np.random.default_rng(seed), batch=batch_rows(data.size, n_resamples))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def sentence_bleu_like(n: int, seed: int) -> list[float]:
    """Skewed, bounded, with a heap of zeros: what per-sample BLEU looks like."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.6, 2.5, n)
    scores[rng.random(n) < 0.35] = 0.0
    return [float(s) for s in scores]


CASES = {
    "bleu-like, 40": sentence_bleu_like(40, 1),
    "bleu-like, 3000 (several batches)": sentence_bleu_like(3000, 2),
    "judge 1-5 as 0-1": [(v - 1) / 4 for v in np.random.default_rng(3).integers(1, 6, 120)],
    "two values": [0.0, 1.0],
    "ties": [0.2, 0.2, 0.2, 0.5, 0.5, 0.9],
}


@pytest.mark.parametrize("method", ["bca", "percentile"])
@pytest.mark.parametrize("name", list(CASES))
def test_same_interval_as_scipy(name: str, method: str) -> None:
    scores = CASES[name]
    assert bootstrap_interval(scores, method=method) == pytest.approx(scipy_interval(scores, method), abs=1e-12)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=60).filter(lambda s: len(set(s)) > 1),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]), st.integers(0, 2**32))
def test_same_interval_as_scipy_for_any_scores(scores: list[float], level: float, seed: int) -> None:
    ours = bootstrap_interval(scores, level, n_resamples=500, seed=seed)
    expected = scipy_interval(scores, "bca", level, n_resamples=500, seed=seed)
    if not any(math.isnan(e) for e in expected):  # scipy warns and gives nan where BCa is undefined
        mean = mean_score(scores)
        assert ours == pytest.approx((min(expected[0], mean), max(expected[1], mean)), abs=1e-12)
    assert ours[0] <= mean_score(scores) <= ours[1]


def test_order_does_not_matter() -> None:
    scores = sentence_bleu_like(500, 4)
    shuffled = list(np.random.default_rng(5).permutation(scores))
    assert bootstrap_interval(shuffled) == bootstrap_interval(scores)


def test_same_in_another_process() -> None:
    scores = sentence_bleu_like(300, 6)
    code = ("from pytest_llmeval.results.bootstrap import bootstrap_interval; import sys, json; "
            "print(repr(bootstrap_interval(json.loads(sys.stdin.read()))))")
    import json

    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(scores), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == repr(bootstrap_interval(scores))


def test_seed_changes_the_resamples_only() -> None:
    scores = sentence_bleu_like(300, 7)
    one, other = bootstrap_interval(scores, seed=1), bootstrap_interval(scores, seed=2)
    assert one != other and one == pytest.approx(other, abs=0.01)


def test_bca_covers_a_skewed_mean_about_as_often_as_it_says() -> None:
    """200 samples of 60 from a skewed bounded distribution whose mean is known exactly."""
    true_mean = 0.65 * 0.6 / (0.6 + 2.5)  # 35% zeros, else Beta(0.6, 2.5)
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(200):
        scores = rng.beta(0.6, 2.5, 60)
        scores[rng.random(60) < 0.35] = 0.0
        low, high = bootstrap_interval(list(scores), n_resamples=1000)
        covered += low <= true_mean <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_a_spread_too_small_for_floats_squared_still_gives_an_interval() -> None:
    """Found by hypothesis: (2e-311)² underflows to 0, which divided BCa's acceleration by zero."""
    low, high = bootstrap_interval([0.0, 0.0, 2.225073858507e-311], 0.8, n_resamples=500, seed=0)
    assert 0.0 <= low <= mean_score([0.0, 0.0, 2.225073858507e-311]) <= high <= 2.225073858507e-311


def test_degenerate_inputs() -> None:
    assert all(math.isnan(b) for b in bootstrap_interval([]))
    assert bootstrap_interval([0.4]) == (0.4, 0.4)
    assert bootstrap_interval([0.3] * 50) == (0.3, 0.3)  # the bootstrap sees no spread: none to show
    assert math.isnan(mean_score([])) and mean_score([0.3] * 50) == 0.3 and mean_score([0.25, 0.75, 1.0]) == 2 / 3


def test_wider_at_higher_level() -> None:
    scores = sentence_bleu_like(200, 9)
    narrow, wide = bootstrap_interval(scores, 0.8), bootstrap_interval(scores, 0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scores": [0.1, float("nan")]}, "finite"),
    ({"scores": [0.1, 0.2], "level": 1.0}, "0 < level < 1"),
    ({"scores": [0.1, 0.2], "n_resamples": 0}, "n_resamples >= 1"),
    ({"scores": [0.1, 0.2], "method": "basic"}, "unknown method 'basic' \\(expected bca or percentile\\)"),
])
def test_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_interval(**kwargs)  # type: ignore[arg-type]
