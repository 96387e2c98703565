"""Answer extraction and scoring: from a model's reply to right or wrong.

One module per job, re-exported here:

    text.py      full-width folding and the case/punctuation/whitespace rules of string tasks
    phrases.py   what a letter token is, and the EN/ZH phrases that commit to one
    choice.py    extract_choice: the option letter a reply commits to (precedence documented there)
    numbers.py   extract_number / numbers_equal: GSM8K-style final numbers
    labels.py    gold answers and log-likelihoods as option labels
    cloze.py     option texts as continuations: acc, acc_norm, acc_bytes, acc_mutual_info; TruthfulQA MC1/MC2
    options.py   the suite's ``scoring:`` block: keys, defaults, validation at collection
    score.py     score_reply: one reply against one gold answer, for every task
"""

from __future__ import annotations

from .choice import extract_choice
from .cloze import ClozePicks, cloze_continuations, cloze_picks, truthfulqa_mc1, truthfulqa_mc2
from .labels import normalize_choice_target, pick_by_loglikelihood
from .numbers import extract_number, numbers_equal
from .options import SCORING_OPTIONS, TASKS, validate_options
from .score import Scored, score_reply

__all__ = [
    "ClozePicks",
    "SCORING_OPTIONS",
    "Scored",
    "TASKS",
    "cloze_continuations",
    "cloze_picks",
    "extract_choice",
    "extract_number",
    "normalize_choice_target",
    "numbers_equal",
    "pick_by_loglikelihood",
    "score_reply",
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "validate_options",
]
