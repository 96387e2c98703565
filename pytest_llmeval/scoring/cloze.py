"""Cloze multiple choice: each option's own text is scored as a continuation of the prompt.

Every definition here is lm-evaluation-harness's (0.4, ``ConfigurableTask.construct_requests`` and
``process_results`` in ``lm_eval/api/task.py``; TruthfulQA's in ``lm_eval/tasks/truthfulqa``), so a
pick made here is the pick lm-eval makes from the same log-likelihoods:

- The continuation of an option is the target delimiter (``" "``) followed by the option's text
  exactly as the data holds it, unstripped: after ``"...Answer:"`` the option ``Paris`` is scored
  as ``" Paris"``, and an option ``"  5"`` as ``"   5"``.
- ``acc``: the option with the highest summed log-likelihood.
- ``acc_norm``: the highest log-likelihood divided by the length of the option's text, where the
  length is ``len(text)``: its characters (Unicode code points), the delimiter not counted. That is
  its length in bytes for ASCII text only: "¬P ∨ Q" has 6 characters and 9 UTF-8 bytes. Dividing
  by UTF-8 bytes is lm-eval's separate ``acc_bytes``, given here too.
- ``acc_mutual_info``: the highest ``ll(option | prompt) - ll(option | nothing)``. lm-eval's
  unconditional request is ``("", delimiter + text)``, an empty context, which its models (and the
  ``hf`` and ``llamacpp`` backends) condition on the BOS token, else EOS. A text prompt cannot
  name that token, so OpenAI-compatible completions endpoints cannot score it.
- Ties go to the option listed first (``numpy.argmax``). A NaN log-likelihood counts as
  impossible, as everywhere in this package (``numpy.argmax`` would pick it). An empty option text
  never wins a normalised pick (lm-eval divides a negative number by zero there: minus infinity).

TruthfulQA (the dataset's README and lm-eval's ``truthfulqa_mc1`` / ``truthfulqa_mc2``):
- MC1: right when the option picked by ``acc`` is the one true answer. The data lists the true
  answer first and lm-eval's gold index is 0, so a tie with it counts as right in both.
- MC2: the probability mass on the true answers, each option's probability ``exp(ll)`` normalised
  over all the question's options. lm-eval exponentiates the raw log-likelihoods, which underflows
  to 0/0 below about -745; the same ratio taken after subtracting the largest one does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["CLOZE_METRICS", "CLOZE_OPTIONS", "GRADED_METRICS", "ClozePicks", "ClozeScores", "DEFAULT_METRIC", "TARGET_DELIMITER",
           "check_cloze_options", "cloze_continuations", "cloze_metric", "cloze_picks", "cloze_scores",
           "wants_mutual_info", "truthfulqa_mc1", "truthfulqa_mc2"]

TARGET_DELIMITER = " "  # lm-eval's default target_delimiter, between the prompt and an option


@dataclass(frozen=True, slots=True)
class ClozePicks:
    """The index of the option each rule picks; ``acc_mutual_info`` is None without the
    unconditional log-likelihoods."""

    acc: int
    acc_norm: int
    acc_bytes: int
    acc_mutual_info: int | None = None


# ``mode: cloze`` in a suite: ``scoring: {metric: ..., mutual_info: ...}``. ``acc_norm`` is the
# default because it is the figure lm-eval users quote for cloze tasks (ARC, HellaSwag, PIQA,
# OpenBookQA): ``acc`` favours short options. ``mc1`` is TruthfulQA's name for ``acc`` over its MC1
# answers, ``mc2`` its graded score (``truthfulqa_mc2``), for data that carries MC2 answers.
CLOZE_METRICS: tuple[str, ...] = ("acc", "acc_norm", "acc_bytes", "acc_mutual_info", "mc1", "mc2")
GRADED_METRICS: frozenset[str] = frozenset({"mc2"})  # a float per sample: subjects take the mean
CLOZE_OPTIONS: frozenset[str] = frozenset({"metric", "mutual_info"})
DEFAULT_METRIC = "acc_norm"


@dataclass(frozen=True, slots=True)
class ClozeScores:
    """One sample under ``mode: cloze``: each rule's picked label and whether it is the gold one
    (1.0 or 0.0), ``acc_mutual_info`` only where the unconditional log-likelihoods were asked for."""

    picks: dict[str, str]
    metrics: dict[str, float]


def check_cloze_options(options: Mapping[str, Any]) -> None:
    """``scoring.metric`` names a cloze metric; ``scoring.mutual_info`` is true or false."""
    metric = options.get("metric", DEFAULT_METRIC)
    if metric not in CLOZE_METRICS:
        raise ConfigError(f"expected one of {', '.join(CLOZE_METRICS)}, got {metric!r}", key="scoring.metric")
    if not isinstance(options.get("mutual_info", False), bool):
        raise ConfigError(f"expected true or false, got {options['mutual_info']!r}", key="scoring.mutual_info")
    if metric == "acc_mutual_info" and options.get("mutual_info") is False:
        raise ConfigError("metric acc_mutual_info needs the unconditional request; drop mutual_info: false",
                          key="scoring.mutual_info")


def cloze_metric(options: Mapping[str, Any]) -> str:
    """The metric a cloze suite scores its subjects (and gates) on."""
    return str(options.get("metric", DEFAULT_METRIC))


def wants_mutual_info(options: Mapping[str, Any]) -> bool:
    """Whether each sample also needs its options scored after the empty context."""
    return cloze_metric(options) == "acc_mutual_info" or options.get("mutual_info") is True


def cloze_scores(logprobs: Sequence[float], choices: Sequence[str], labels: str, target: str,
                 unconditional: Sequence[float] | None = None) -> ClozeScores:
    """Every rule's pick (as the option's label) and its 0/1 score against ``target``, a label."""
    found = cloze_picks(logprobs, choices, unconditional)
    indexes = {"acc": found.acc, "acc_norm": found.acc_norm, "acc_bytes": found.acc_bytes}
    if found.acc_mutual_info is not None:
        indexes["acc_mutual_info"] = found.acc_mutual_info
    picks = {metric: labels[index] for metric, index in indexes.items()}
    return ClozeScores(picks, {metric: 1.0 if label == target else 0.0 for metric, label in picks.items()})


def cloze_continuations(choices: Sequence[str], delimiter: str = TARGET_DELIMITER) -> tuple[str, ...]:
    """The continuation each option is scored as: the delimiter, then the text as it is."""
    return tuple(delimiter + choice for choice in choices)


def cloze_picks(logprobs: Sequence[float], choices: Sequence[str],
                unconditional: Sequence[float] | None = None) -> ClozePicks:
    """Each rule's pick from the options' summed log-likelihoods given the prompt (and, for
    ``acc_mutual_info``, given the empty context); ``choices`` are the option texts without the
    delimiter, whose lengths ``acc_norm`` and ``acc_bytes`` divide by."""
    _same_length(logprobs, choices, "log-likelihoods")
    mutual = None
    if unconditional is not None:
        _same_length(unconditional, choices, "unconditional log-likelihoods")
        mutual = _argmax([c - u for c, u in zip(logprobs, unconditional)])
    return ClozePicks(
        acc=_argmax(logprobs),
        acc_norm=_argmax([_per(lp, len(text)) for lp, text in zip(logprobs, choices)]),
        acc_bytes=_argmax([_per(lp, len(text.encode("utf-8"))) for lp, text in zip(logprobs, choices)]),
        acc_mutual_info=mutual,
    )


def truthfulqa_mc1(logprobs: Sequence[float], labels: Sequence[int]) -> bool:
    """Whether the likeliest option (the first of equals) is the question's one true answer."""
    _same_length(logprobs, labels, "log-likelihoods")
    if sum(1 for label in labels if label == 1) != 1:
        raise ValueError(f"MC1 needs exactly one true answer, got labels {list(labels)}")
    return labels[_argmax(logprobs)] == 1


def truthfulqa_mc2(logprobs: Sequence[float], labels: Sequence[int]) -> float:
    """The share of the options' total probability that falls on the true answers (label 1)."""
    _same_length(logprobs, labels, "log-likelihoods")
    values = [_finite_or_impossible(lp) for lp in logprobs]
    peak = max(values, default=-math.inf)
    if peak == -math.inf:
        raise ValueError("MC2 needs at least one option with a non-zero probability")
    weights = [math.exp(v - peak) for v in values]
    return math.fsum(w for w, label in zip(weights, labels) if label == 1) / math.fsum(weights)


def _argmax(values: Sequence[float]) -> int:
    """The first index of the largest value, NaN counting as minus infinity."""
    if not values:
        raise ValueError("no options to choose from")
    scores = [_finite_or_impossible(v) for v in values]
    return scores.index(max(scores))


def _finite_or_impossible(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _per(logprob: float, length: int) -> float:
    return logprob / length if length else -math.inf


def _same_length(values: Sequence[object], options: Sequence[object], what: str) -> None:
    if len(values) != len(options):
        raise ValueError(f"{len(values)} {what} for {len(options)} options")
