"""Speed and memory of open-ended scoring, each against a peer in the same process.

1. ``bootstrap_interval`` (BCa, 2,000 resamples) against ``scipy.stats.bootstrap`` given the same
   resamples (same seed and batches), BCa and percentile: the same interval, and the time of each.
2. ``sample_scores`` for ROUGE-L, BLEU and chrF against calling the libraries directly in a loop
   (``RougeScorer.score``, ``BLEU.sentence_score``, ``CHRF.sentence_score``): the wrapper's cost.

    python benchmarks/open_ended_speed.py [--n 15000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_llmeval.results.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, batch_rows, bootstrap_interval
from pytest_llmeval.scoring.text_metrics import sample_scores

WORDS = ("the model said that revenue rose in the third quarter while costs fell and the board approved a new plan "
         "for growth in asia and europe next year despite weaker demand").split()


def timed(calls: list[Callable[[], Any]], rounds: int) -> list[tuple[float, Any]]:
    """Median seconds of each call over ``rounds``, and its last result. The calls alternate
    within each round, so a change in the machine's load falls on all of them alike."""
    times: list[list[float]] = [[] for _ in calls]
    results: list[Any] = [None] * len(calls)
    for _ in range(rounds):
        for i, call in enumerate(calls):
            started = time.perf_counter()
            results[i] = call()
            times[i].append(time.perf_counter() - started)
    return [(statistics.median(t), r) for t, r in zip(times, results)]


def bleu_like_scores(n: int) -> list[float]:
    rng = np.random.default_rng(1)
    scores = rng.beta(0.6, 2.5, n)
    scores[rng.random(n) < 0.35] = 0.0
    return [float(s) for s in scores]


def bootstrap_rows(n: int, rounds: int) -> None:
    from scipy.stats import bootstrap

    scores = bleu_like_scores(n)
    data = (np.sort(np.asarray(scores)),)

    def scipy_ci(method: str) -> tuple[float, float]:
        ci = bootstrap(data, np.mean, n_resamples=DEFAULT_RESAMPLES, method=method, batch=batch_rows(n, DEFAULT_RESAMPLES),
                       rng=np.random.default_rng(DEFAULT_SEED)).confidence_interval
        return float(ci.low), float(ci.high)

    (ours_s, ours), (pct_s, _) = timed([lambda: bootstrap_interval(scores), lambda: scipy_ci("percentile")], rounds)
    tracemalloc.start()
    bootstrap_interval(scores)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    [(bca_s, bca)] = timed([lambda: scipy_ci("BCa")], 1 if n > 5000 else rounds)  # scipy's BCa jackknife is O(n²)
    same = np.allclose(ours, bca, rtol=0, atol=1e-12)
    print(f"| {n:,} | {ours_s:.3f} s | {peak_mb:.0f} MB | {bca_s:.3f} s | **{ours_s / bca_s:.3f}** | {pct_s:.3f} s "
          f"| **{ours_s / pct_s:.2f}** | {'yes' if same else 'NO'} |")


def direct(metric: str, replies: list[str], refs: list[str]) -> list[float]:
    """The libraries called as their documentation shows, no wrapper."""
    if metric == "rougeL":
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        return [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(replies, refs)]
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    metric_object = BLEU(effective_order=True) if metric == "bleu" else CHRF()
    return [metric_object.sentence_score(h, [r]).score / 100 for h, r in zip(replies, refs)]


def text(rng: np.random.Generator, words: int) -> str:
    return " ".join(rng.choice(WORDS, words))


def metric_rows(n: int, rounds: int) -> None:
    rng = np.random.default_rng(2)
    replies, refs = [text(rng, 40) for _ in range(n)], [text(rng, 30) for _ in range(n)]
    for metric in ("rougeL", "bleu", "chrf"):
        sample_scores(metric, replies[:2], refs[:2])  # imports, outside the timing
        direct(metric, replies[:2], refs[:2])
        (ours_s, ours), (peer_s, peer) = timed(
            [lambda: sample_scores(metric, replies, refs), lambda: direct(metric, replies, refs)], rounds)
        same = np.allclose(ours, np.clip(peer, 0, 1), rtol=0, atol=1e-15)
        print(f"| {metric} | {n:,} | {ours_s:.2f} s ({n / ours_s:,.0f}/s) | {peer_s:.2f} s | **{ours_s / peer_s:.3f}** "
              f"| {'yes' if same else 'NO'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| scores | ours (BCa) | ours peak memory | scipy BCa | ours / scipy BCa | scipy percentile "
          "| ours / scipy percentile | same interval as scipy BCa |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (1_000, args.n):
        bootstrap_rows(n, args.rounds)
    print("\n| metric | samples | ours | library directly | ours / library | same scores |")
    print("|---|---|---|---|---|---|")
    metric_rows(2_000, args.rounds)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
