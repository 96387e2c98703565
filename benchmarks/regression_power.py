"""How often a real drop is caught, and how often no drop is flagged: our paired rule against
lm-evaluation-harness's unpaired comparison.

lm-evaluation-harness compares two runs (``scripts/model_comparator.py``) with a two-sided z-test
on the two accuracies and their standard errors, Z = (acc1 - acc2) / sqrt(se1² + se2²), as if the
runs had answered different questions. pytest-llmeval pairs the samples and uses McNemar's exact
test on the flips (``pytest_llmeval.results.stats.mcnemar_exact``, the function the plugin runs).

Simulation: each of n questions has a pair of outcomes (baseline, new) drawn from four cells:
P(right->wrong) = (churn + drop) / 2, P(wrong->right) = (churn - drop) / 2, the rest right/right
and wrong/wrong around a baseline accuracy. ``churn`` is how many answers change at all between
two checkpoints; ``drop`` the true fall in accuracy. A rule flags a regression when the new score
is lower and p < 0.05 (the plugin's default level; tolerance 0 here so the tests alone differ,
and with the default tolerance 0.01 as the plugin runs).

    python benchmarks/regression_power.py [--trials 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from pytest_llmeval.results.stats import mcnemar_exact

LEVEL = 0.05


def unpaired_p(acc_base: float, acc_new: float, n: int) -> float:
    """lm-eval's comparator: stderr sqrt(p(1-p)/(n-1)) per run, normal two-sided p."""
    se = math.sqrt(acc_base * (1 - acc_base) / (n - 1) + acc_new * (1 - acc_new) / (n - 1))
    if se == 0:
        return 1.0
    z = (acc_new - acc_base) / se
    return math.erfc(abs(z) / math.sqrt(2))


def simulate(n: int, accuracy: float, churn: float, drop: float, trials: int, rng: np.random.Generator,
             tolerance: float) -> tuple[float, float]:
    """(share flagged by McNemar, share flagged by the unpaired z-test)."""
    rw, wr = (churn + drop) / 2, (churn - drop) / 2
    rr = accuracy - rw
    cells = np.array([rr, rw, wr, 1 - rr - rw - wr])
    counts = rng.multinomial(n, cells, size=trials)
    paired = unpaired = 0
    for c_rr, c_rw, c_wr, _ in counts:
        base, new = (c_rr + c_rw) / n, (c_rr + c_wr) / n
        lower = new - base < -tolerance - 1e-12
        paired += lower and mcnemar_exact(int(c_rw), int(c_wr)) < LEVEL
        unpaired += lower and unpaired_p(base, new, n) < LEVEL
    return paired / trials, unpaired / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"trials {args.trials}, seed {args.seed}, baseline accuracy 0.6, level {LEVEL}")
    print("| n | churn | true drop | tolerance | McNemar (ours) | unpaired z (lm-eval) |")
    print("|---|---|---|---|---|---|")
    for n in (300, 1000, 14042):
        for churn in (0.06, 0.12):
            for drop in (0.0, 0.01, 0.02, 0.05):
                for tolerance in (0.0, 0.01):
                    ours, theirs = simulate(n, 0.6, churn, drop, args.trials, rng, tolerance)
                    print(f"| {n} | {churn:.2f} | {drop:.2f} | {tolerance:.2f} | {ours:.3f} | {theirs:.3f} |")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
