"""Reference-based text metrics for open-ended replies: ROUGE-1/2/L, BLEU and chrF, per sample.

The numbers are the libraries' own, never re-implemented: ROUGE is Google's ``rouge-score`` (the
F-measure of ``RougeScorer``), BLEU and chrF are ``sacrebleu``'s. Both are imported on first use,
so importing the plugin stays cheap (``rouge-score`` pulls in nltk: seconds of import).

Every score is on the plugin's one scale, 0 to 1, like an accuracy: thresholds, ``pass_at``,
intervals and the baseline's regression tolerance then mean the same for every task. sacreBLEU
reports 0 to 100, so its value is divided by 100 (BLEU 27.3 is 0.273); float rounding above 1
(sacreBLEU can return 100.00000000000004) is clamped.

- **Per sample** (what ``pass_at``, pairing and the bootstrap need): ROUGE F-measure of the reply
  against its reference; sentence BLEU as ``sacrebleu``'s ``sentence_bleu`` and its
  ``--sentence-level`` command line compute it (exponential smoothing, effective order); sentence
  chrF (character 6-grams, beta 2).
- **Per corpus** (what papers quote): corpus BLEU and corpus chrF pool the n-gram statistics of
  all samples, so they are not the mean of the per-sample values, and neither bounds the other
  (per-sample BLEU uses the effective order; pooling weighs long samples more). ROUGE has no
  pooled form: its corpus value is the mean F-measure, as ``rouge-score``'s command line
  aggregates it.

Tokenisation, ``tokenize="default"`` or ``"zh"`` (named as sacreBLEU names it):
- BLEU: sacreBLEU's ``13a``, or its documented ``zh`` tokeniser (each Chinese character a token,
  the rest as ``13a``). chrF reads characters and needs no tokeniser, in any language.
- ROUGE: ``rouge-score``'s default tokeniser lowercases and keeps only ``[a-z0-9]`` runs, so
  Chinese text would have no tokens at all. Its documented extension point is a ``tokenizer``
  object with a ``tokenize()`` method; under ``zh`` ours makes every Chinese character a token,
  as sacreBLEU's ``zh`` does for BLEU (character ROUGE, common for Chinese summarisation since
  LCSTS and what multilingual ROUGE scripts do: no word segmenter whose dictionary would move the
  scores), and hands
  every other run of text to ``rouge-score``'s own tokeniser, so Latin words and numbers inside
  Chinese text are tokenised exactly as in English. Chinese punctuation is dropped, as the default
  tokeniser drops ASCII punctuation, and full-width letters and digits are folded first.

Only one reference per sample.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import ConfigError
from .text import fold_width

__all__ = [
    "ChineseRougeTokenizer", "CorpusScore", "METRICS", "TOKENIZERS", "corpus_score", "sample_scores",
    "signature",
]

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
METRICS: tuple[str, ...] = (*ROUGE_TYPES, "bleu", "chrf")
TOKENIZERS: tuple[str, ...] = ("default", "zh")
_INSTALL = {"rouge": "rouge-score", "bleu": "sacrebleu", "chrf": "sacrebleu"}


@dataclass(frozen=True, slots=True)
class CorpusScore:
    """A corpus-level value (0 to 1) and the signature that says how it was computed."""

    value: float
    signature: str


class ChineseRougeTokenizer:
    """``rouge-score``'s ``tokenizer=`` for Chinese: one token per Chinese character; every other
    stretch of text goes through ``rouge_score.tokenize.tokenize`` (lowercase, ``[a-z0-9]`` runs,
    the Porter stemmer when asked), so mixed text tokenises as each part would on its own."""

    def __init__(self, use_stemmer: bool = False) -> None:
        from nltk.stem import porter
        from rouge_score import tokenize

        self._tokenize = tokenize.tokenize
        self._stemmer = porter.PorterStemmer() if use_stemmer else None

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        rest: list[str] = []
        for char in fold_width(text):
            if _is_han(char):
                tokens += self._words("".join(rest))
                tokens.append(char)
                rest = []
            else:
                rest.append(char)
        return tokens + self._words("".join(rest))

    def _words(self, text: str) -> list[str]:
        return [str(token) for token in self._tokenize(text, self._stemmer)]


def _is_han(char: str) -> bool:
    """A Chinese character (CJK unified or compatibility ideograph), not its punctuation."""
    return unicodedata.name(char, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _family(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r} (expected one of {', '.join(METRICS)})", key="metric")
    return "rouge" if metric in ROUGE_TYPES else metric


def _check_tokenize(tokenize: str) -> None:
    if tokenize not in TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {tokenize!r} (expected one of {', '.join(TOKENIZERS)})", key="tokenize")


def _import_error(metric: str) -> ConfigError:
    package = _INSTALL[_family(metric)]
    return ConfigError(f"metric {metric} needs the {package} package: pip install {package}", key="metric")


@lru_cache(maxsize=None)
def _rouge_scorer(metric: str, tokenize: str, use_stemmer: bool) -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise _import_error(metric) from None
    tokenizer = ChineseRougeTokenizer(use_stemmer) if tokenize == "zh" else None
    return rouge_scorer.RougeScorer([metric], use_stemmer=use_stemmer, tokenizer=tokenizer)


def _sacrebleu(metric: str, tokenize: str, sentence: bool) -> Any:
    """A fresh sacreBLEU metric object: its signature records the references of its last call."""
    try:
        from sacrebleu.metrics.bleu import BLEU
        from sacrebleu.metrics.chrf import CHRF
    except ImportError:
        raise _import_error(metric) from None
    if metric == "chrf":
        return CHRF()
    return BLEU(tokenize="zh" if tokenize == "zh" else "13a", effective_order=sentence)


def _unit(library_score: float) -> float:
    """sacreBLEU's 0-100 on the plugin's 0-1 scale, float rounding beyond the ends clamped."""
    return min(max(library_score / 100.0, 0.0), 1.0)


def _check(metric: str, replies: Sequence[str], references: Sequence[str], tokenize: str) -> str:
    family = _family(metric)
    _check_tokenize(tokenize)
    if len(replies) != len(references):
        raise ValueError(f"{len(replies)} replies but {len(references)} references")
    return family


def sample_scores(metric: str, replies: Sequence[str], references: Sequence[str], *,
                  tokenize: str = "default", use_stemmer: bool = False) -> list[float]:
    """One score (0 to 1) per reply against its reference, in order. ``use_stemmer`` is ROUGE's
    Porter stemmer (off by default, as in ``rouge-score``); BLEU and chrF ignore it."""
    if _check(metric, replies, references, tokenize) == "rouge":
        scorer = _rouge_scorer(metric, tokenize, use_stemmer)
        return [float(scorer.score(ref, reply)[metric].fmeasure) for reply, ref in zip(replies, references)]
    scorer = _sacrebleu(metric, tokenize, sentence=True)
    return [_unit(scorer.sentence_score(reply, [ref]).score) for reply, ref in zip(replies, references)]


def corpus_score(metric: str, replies: Sequence[str], references: Sequence[str], *,
                 tokenize: str = "default", use_stemmer: bool = False) -> CorpusScore:
    """The corpus value (0 to 1): pooled statistics for BLEU and chrF, the mean F for ROUGE; 0 for
    no samples."""
    if _check(metric, replies, references, tokenize) == "rouge":
        scores = sample_scores(metric, replies, references, tokenize=tokenize, use_stemmer=use_stemmer)
        mean = math.fsum(scores) / len(scores) if scores else 0.0  # exact: the same in any order
        return CorpusScore(mean, signature(metric, tokenize=tokenize, use_stemmer=use_stemmer, sentence=False))
    if not replies:
        return CorpusScore(0.0, signature(metric, tokenize=tokenize, sentence=False))
    scorer = _sacrebleu(metric, tokenize, sentence=False)
    value = _unit(scorer.corpus_score(list(replies), [list(references)]).score)
    return CorpusScore(value, str(scorer.get_signature().format()))


@lru_cache(maxsize=None)
def signature(metric: str, *, tokenize: str = "default", use_stemmer: bool = False, sentence: bool = True) -> str:
    """How a score was computed, to print beside it and to put into a suite's version.

    BLEU and chrF: sacreBLEU's own signature (one reference), ``eff:yes`` for the per-sample
    scores, ``eff:no`` for the corpus value, e.g.
    ``nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0``. ROUGE, in the same shape:
    ``rougeL|f|tok:default|stem:no|rouge-score:0.1.2``.
    """
    if _family(metric) == "rouge":
        _check_tokenize(tokenize)
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("rouge-score")
        except PackageNotFoundError:
            raise _import_error(metric) from None
        return f"{metric}|f|tok:{tokenize}|stem:{'yes' if use_stemmer else 'no'}|rouge-score:{release}"
    _check_tokenize(tokenize)
    scorer = _sacrebleu(metric, tokenize, sentence)
    if sentence:  # sacreBLEU knows nrefs (part of the signature) only after a first call
        scorer.sentence_score("", [""])
    else:
        scorer.corpus_score([""], [[""]])
    return str(scorer.get_signature().format())
