"""Proof by simulation of sequential early stopping (``pytest_llmeval.results.sequential``), and
why a Wilson interval checked after every sample is not a substitute.

Each run: a finite population of N outcomes, then a uniformly random order of it, then the rule
fed in that order until it reaches a verdict. The run is compared with the FULL run's verdict,
``mean of all N >= threshold``, for the population that run drew (its realised mean, not the
accuracy it was drawn at). Per cell we report the share of runs whose verdict differs and the
mean share of the N samples asked.

- 0/1 cells: the population has K ~ Binomial(N, p) ones, p = threshold + delta. Its random order
  is drawn as an urn: draw t is a one with probability (ones left) / (N - t + 1), exactly the law
  of a uniformly random permutation's t-th element, at O(runs) per step with no N x runs array.
- boundary cells: every run has the same population, the one with the fewest ones that passes
  (mean = threshold when N * threshold is whole) and the one with one fewer (the most that
  fails). The guarantee is for each population, and these are the hardest.
- fractional cells: scores in [0, 1] (a ROUGE-like spread: Beta with mean p and a + b = 2), the
  population drawn per run and shuffled with a real permutation.

The repeated Wilson rule, on the same draws: after every sample, "pass" once the 95% Wilson
interval of the samples so far lies at or above the threshold, "fail" once it lies below. It
is the test a user would write with the plugin's own interval (``results.stats``, vectorised
here and checked against it).

Every cell also feeds the first ``--check`` runs' outcomes to ``SequentialGate`` itself and
requires the same verdict at the same sample as the vectorised rule here, so the table measures
the plugin's rule and not a copy of it.

    python benchmarks/early_stop_sim.py [--runs 10000] [--seed 1] [--check 100]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from pytest_llmeval.results.sequential import _EDGE, BET_CAP, SequentialGate
from pytest_llmeval.results.stats import wilson_interval

ALPHA = 0.05
DELTAS = (-0.10, -0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05, 0.10)
Z95 = NormalDist().inv_cdf(0.975)

# Draws the outcomes of step t (1-based) for the live runs (their indices).
Source = Callable[[int, np.ndarray], np.ndarray]


@dataclass
class Cell:
    """One cell's result."""

    full_pass: float  # share of runs whose full run passes
    bet_wrong: int
    bet_asked: float  # mean share of N asked
    wilson_wrong: int
    wilson_asked: float
    runs: int


def wilson_bounds(correct: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``stats.wilson_interval`` at 95% over an array of counts (same formula and clamps)."""
    p = correct / n
    centre = p + Z95 * Z95 / (2 * n)
    spread = Z95 * np.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n))
    denominator = 1 + Z95 * Z95 / n
    low, high = (centre - spread) / denominator, (centre + spread) / denominator
    return np.minimum(np.maximum(low, 0.0), p), np.maximum(np.minimum(high, 1.0), p)


def run_cell(n: int, c: float, full_pass: np.ndarray, source: Source, check: int) -> Cell:
    """Both rules over ``len(full_pass)`` runs of one population law; returns the counts."""
    runs = len(full_pass)
    bet_pass, bet_at = np.zeros(runs, bool), np.full(runs, -1)
    wil_pass, wil_at = np.zeros(runs, bool), np.full(runs, -1)
    live = np.arange(runs)
    s, squares = np.zeros(runs), np.zeros(runs)
    e_pass, e_fail = np.ones(runs), np.ones(runs)
    bet_open, wil_open = np.ones(runs, bool), np.ones(runs, bool)
    recorded: list[list[float]] = [[] for _ in range(min(check, runs))]
    for t in range(1, n + 1):
        x = source(t, live).astype(np.float64)
        for i in np.flatnonzero(live < len(recorded)):
            recorded[live[i]].append(float(x[i]))
        _bet(n, c, t, x, s, squares, e_pass, e_fail, bet_open)
        s += x
        squares += np.where(bet_open, (x - (c + s) / (t + 1)) ** 2, 0.0)
        passed = bet_open & ((s / n >= c) | (e_pass >= 1 / ALPHA))
        failed = bet_open & ~passed & (((s + n - t) / n < c) | (e_fail >= 1 / ALPHA))
        done = passed | failed
        bet_pass[live[passed]], bet_at[live[done]] = True, t
        bet_open &= ~done
        low, high = wilson_bounds(s, t)
        w_pass, w_fail = wil_open & (low >= c), wil_open & (high < c)
        if t == n:  # asked everything: the full run's verdict
            w_pass, w_fail = wil_open & full_pass[live], wil_open & ~full_pass[live]
        wil_pass[live[w_pass]], wil_at[live[w_pass | w_fail]] = True, t
        wil_open &= ~(w_pass | w_fail)
        keep = bet_open | wil_open
        if not keep.all():
            live, s, squares, e_pass, e_fail = live[keep], s[keep], squares[keep], e_pass[keep], e_fail[keep]
            bet_open, wil_open = bet_open[keep], wil_open[keep]
        if live.size == 0:
            break
    assert (bet_at > 0).all() and (wil_at > 0).all(), "a run ended without a verdict"
    _check_against_module(n, c, recorded, bet_pass, bet_at)
    return Cell(float(full_pass.mean()), int((bet_pass != full_pass).sum()), float(bet_at.mean() / n),
                int((wil_pass != full_pass).sum()), float(wil_at.mean() / n), runs)


def _bet(n: int, c: float, t: int, x: np.ndarray, s: np.ndarray, squares: np.ndarray,
         e_pass: np.ndarray, e_fail: np.ndarray, open_: np.ndarray) -> None:
    """``SequentialGate._bet`` over arrays, the same float operations in the same order."""
    m = (n * c - s) / (n - t + 1)
    ok = open_ & (m > _EDGE) & (m < 1 - _EDGE)
    m = np.where(ok, m, 0.5)
    d = (c + s) / t - m
    stake = d / ((0.25 + squares) / t + d * d)
    up, down = ok & (stake > 0), ok & (stake < 0)
    e_pass[up] *= 1 + np.minimum(stake, BET_CAP / m)[up] * (x - m)[up]
    e_fail[down] *= 1 - np.minimum(-stake, BET_CAP / (1 - m))[down] * (x - m)[down]


def _check_against_module(n: int, c: float, recorded: list[list[float]], bet_pass: np.ndarray,
                          bet_at: np.ndarray) -> None:
    """The plugin's SequentialGate, fed the same outcomes, stops at the same sample, same verdict."""
    for run, outcomes in enumerate(recorded):
        gate = SequentialGate(c, ALPHA, n)
        for x in outcomes[: bet_at[run]]:
            gate.update(int(x) if x in (0.0, 1.0) else x)
        expected = ("pass" if bet_pass[run] else "fail", int(bet_at[run]))
        assert (gate.verdict, gate.stopped_at) == expected, f"run {run}: module {gate.verdict} " \
            f"at {gate.stopped_at}, simulation {expected}"


def urn(rng: np.random.Generator, n: int, ones: np.ndarray) -> Source:
    """Draws of a uniformly random order of populations with ``ones`` ones among ``n``."""
    left = ones.astype(np.float64).copy()

    def draw(t: int, live: np.ndarray) -> np.ndarray:
        x: np.ndarray = rng.random(live.size) * (n - t + 1) < left[live]
        left[live] -= x
        return x

    return draw


def shuffled(rng: np.random.Generator, population: np.ndarray) -> Source:
    """Column t - 1 of each run's population, shuffled with a real permutation per run."""
    order = rng.permuted(population, axis=1)

    def draw(t: int, live: np.ndarray) -> np.ndarray:
        return np.asarray(order[live, t - 1])

    return draw


def smallest_passing(n: int, c: float) -> int:
    """The fewest ones K with ``K / n >= c`` as the plugin computes the score (float division)."""
    k = max(0, min(n, math.ceil(n * c) - 1))
    while k < n and not k / n >= c:
        k += 1
    return k


def upper95(wrong: int, runs: int) -> float:
    """The upper end of the 95% Wilson interval of an error share: the table's margin."""
    return wilson_interval(wrong, runs)[1]


def row(label: str, n: int, c: float, cell: Cell, wilson: bool = True) -> str:
    """One table row; ``wilson=False`` leaves the Wilson columns out (its p(1-p) variance is for 0/1)."""
    bet, wil = cell.bet_wrong / cell.runs, cell.wilson_wrong / cell.runs
    flag = "" if bet <= ALPHA else " **over α**"
    wilson_cells = f"{wil:.4f}{' **over α**' if wil > ALPHA else ''} | {cell.wilson_asked:.3f}" if wilson else "- | -"
    return (f"| {n} | {c:.2f} | {label} | {cell.full_pass:.3f} | {bet:.4f}{flag} | "
            f"{upper95(cell.bet_wrong, cell.runs):.4f} | {cell.bet_asked:.3f} | {1 - cell.bet_asked:.0%} | "
            f"{wilson_cells} |")


HEADER = ("| N | threshold | population | full run passes | **differs, betting** | (95% upper) | "
          "asked | saved | differs, repeated Wilson | asked |\n|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", type=int, default=100, help="runs per cell replayed through SequentialGate")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.6, 0.9])
    args = parser.parse_args()
    assert wilson_bounds(np.array([7.0]), 10)[0][0] == wilson_interval(7, 10)[0]
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"runs {args.runs} per cell, seed {args.seed}, alpha {ALPHA}, {args.check} runs per cell replayed "
          f"through SequentialGate; python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    print(HEADER)
    for n in args.sizes:
        for c in args.thresholds:
            for delta in DELTAS:
                p = min(max(c + delta, 0.0), 1.0)
                ones = rng.binomial(n, p, args.runs)
                cell = run_cell(n, c, ones / n >= c, urn(rng, n, ones), args.check)
                print(row(f"p = {p:.2f} ({delta * 100:+.0f})", n, c, cell), flush=True)
            k = smallest_passing(n, c)
            for ones_k, label in ((k, f"K = {k}, mean {k / n:.4f}"), (k - 1, f"K = {k - 1}, mean {(k - 1) / n:.4f}")):
                ones = np.full(args.runs, ones_k)
                cell = run_cell(n, c, ones / n >= c, urn(rng, n, ones), args.check)
                print(row(label, n, c, cell), flush=True)
    print("\nFractional scores (Beta, mean p, a + b = 2), N = 1000, threshold 0.6:")
    print(HEADER)
    for delta in (-0.10, -0.02, 0.0, 0.02, 0.10):
        p = 0.6 + delta
        population = rng.beta(2 * p, 2 * (1 - p), (args.runs, 1000))
        cell = run_cell(1000, 0.6, population.sum(axis=1) / 1000 >= 0.6, shuffled(rng, population), args.check)
        print(row(f"Beta mean {p:.2f} ({delta * 100:+.0f})", 1000, 0.6, cell, wilson=False), flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
