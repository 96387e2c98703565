"""Corpus BLEU and chrF beside a subject's mean of per-sample scores (tasks ``bleu`` and ``chrf``).

A subject's score is the mean of its sentence scores (what pairs with the baseline, sample by
sample); corpus BLEU, which pools the n-gram counts of all samples, is the number papers quote,
so ``results.json`` reports it beside the mean, with sacreBLEU's signature (``text_metrics``).
The two are different statistics: compare each only with itself. ROUGE has no pooled form (its
corpus value is the mean F, the subject's score), so it gets no row here.

Computed from the samples alone (each carries its reply, reference and ``metric_settings``), so
a merged run of shards reports the same values as one unsharded run. Samples that errored have
no reply and are left out, as they are of the mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..scoring.text_metrics import corpus_score
from .payload import SampleResult

__all__ = ["POOLED", "corpus_rows"]

POOLED = ("bleu", "chrf")


def corpus_rows(samples: Iterable[SampleResult]) -> list[dict[str, Any]]:
    """One row per (model, suite, subject) scored by a pooled metric: its corpus value, the
    corpus signature and the per-sample one, and ``n``."""
    grouped: dict[tuple[str, str, str], list[SampleResult]] = {}
    for r in samples:
        settings = r.metric_settings
        if settings is not None and settings.get("metric") in POOLED and r.reply is not None and r.error is None:
            grouped.setdefault((r.model, r.suite, r.subject), []).append(r)
    rows = []
    for (model, suite, subject), members in grouped.items():
        members.sort(key=lambda r: r.id)  # the same order, and so the same value, in any run
        settings = members[0].metric_settings or {}
        corpus = corpus_score(str(settings["metric"]), [r.reply or "" for r in members],
                              [r.target or "" for r in members], tokenize=str(settings.get("tokenize", "default")))
        rows.append({"model": model, "suite": suite, "subject": subject, "metric": settings["metric"],
                     "n": len(members), "corpus": corpus.value, "signature": corpus.signature,
                     "sentence_signature": settings.get("signature")})
    return rows
