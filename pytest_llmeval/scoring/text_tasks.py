"""``task: rouge``, ``task: bleu`` and ``task: chrf``: a reply scored against its reference by a
text metric (``text_metrics``), a per-sample float from 0 to 1, averaged per subject.

``scoring:`` keys:
- ``pass_at`` (required): a sample passes when its score reaches it. Without it, "12 passed, 3
  missed" would count against a bar nobody set.
- ``rouge`` (task rouge): which ROUGE is the score, ``rouge1``, ``rouge2`` or ``rougeL`` (the
  default: the longest common subsequence, the one summarisation papers lead with).
- ``tokenize``: ``default`` or ``zh`` (Chinese: a token per character, ``text_metrics``); rouge, bleu.
- ``use_stemmer`` (rouge): the Porter stemmer, off by default as in ``rouge-score``.

A reply is never unparsed: an empty one scores 0. ``extracted`` is the reply as compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from . import rules, text_metrics
from .graded import Graded, read_pass_at
from .scored import Gold

__all__ = [
    "BLEU_OPTIONS", "CHRF_OPTIONS", "ROUGE_OPTIONS", "bleu", "check_options", "chrf", "metric_of", "metric_settings",
    "rouge",
]

ROUGE_OPTIONS = frozenset({"pass_at", "rouge", "tokenize", "use_stemmer"})
BLEU_OPTIONS = frozenset({"pass_at", "tokenize"})
CHRF_OPTIONS = frozenset({"pass_at"})
DEFAULT_ROUGE = "rougeL"


def metric_of(task: str, options: Mapping[str, Any]) -> str:
    """The ``text_metrics`` metric a task's scores are: ``rougeL`` (or the chosen ROUGE), ``bleu``, ``chrf``."""
    return str(options.get("rouge", DEFAULT_ROUGE)) if task == "rouge" else task


def metric_settings(task: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """How the task's scores are computed, recorded with each sample (``SampleResult.metric_settings``):
    the metric, its tokenisation and stemming, and the per-sample signature. The corpus value
    beside a subject's mean (``results.corpus``) is computed again from these, in the controller
    and in ``pytest-llmeval merge`` alike."""
    metric = metric_of(task, options)
    tokenize, stem = str(options.get("tokenize", "default")), bool(options.get("use_stemmer", False))
    return {"metric": metric, "tokenize": tokenize, "use_stemmer": stem,
            "signature": text_metrics.signature(metric, tokenize=tokenize, use_stemmer=stem)}


def check_options(task: str) -> Any:
    """The option check of ``task`` (registered in ``tasks.REGISTRY``)."""

    def check(options: Mapping[str, Any]) -> None:
        read_pass_at(options, task=task)
        rouge = options.get("rouge", DEFAULT_ROUGE)
        if rouge not in text_metrics.ROUGE_TYPES:
            raise ConfigError(f"expected one of {', '.join(text_metrics.ROUGE_TYPES)}, got {rouge!r}",
                              key="scoring.rouge")
        tokenize = options.get("tokenize", "default")
        if tokenize not in text_metrics.TOKENIZERS:
            raise ConfigError(f"expected one of {', '.join(text_metrics.TOKENIZERS)}, got {tokenize!r}",
                              key="scoring.tokenize")
        if not isinstance(options.get("use_stemmer", False), bool):
            raise ConfigError(f"expected true or false, got {options['use_stemmer']!r}", key="scoring.use_stemmer")

    return check


def _score(task: str, reply: str, gold: Gold, options: Mapping[str, Any]) -> Graded:
    value = text_metrics.sample_scores(
        metric_of(task, options), [reply], [gold.target], tokenize=str(options.get("tokenize", "default")),
        use_stemmer=bool(options.get("use_stemmer", False)))[0]
    return Graded(reply.strip(), value >= read_pass_at(options, task=task), rules.WHOLE_REPLY, value=value)


def rouge(reply: str, gold: Gold, options: Mapping[str, Any]) -> Graded:
    return _score("rouge", reply, gold, options)


def bleu(reply: str, gold: Gold, options: Mapping[str, Any]) -> Graded:
    return _score("bleu", reply, gold, options)


def chrf(reply: str, gold: Gold, options: Mapping[str, Any]) -> Graded:
    return _score("chrf", reply, gold, options)
