"""Answer extraction and scoring: from a model's reply to right or wrong.

One module per job, re-exported here:

    text.py      full-width folding and the case/punctuation/whitespace rules of string tasks
    phrases.py   what a letter token is, and the EN/ZH phrases that commit to one
    rules.py     the names of the extraction rules, and of the reasons a reply is unparsed
    choice.py    read_choice: the option letter a reply commits to, and the rule (precedence documented there)
    numbers.py   read_number / numbers_equal: GSM8K-style final numbers, fractions included
    labels.py    gold answers and log-likelihoods as option labels
    scored.py    Gold and Scored: what a task's scorer reads and returns
    tasks.py     the task registry: one line per ``task:`` (scorer, options, gold check, modes, metric)
    builtin.py   the built-in tasks' scorers: multiple_choice, exact_match, contains, regex, numeric
    json_match.py  task json_match: the reply's JSON compared structurally with the gold answer
    cloze.py     option texts as continuations: acc, acc_norm, acc_bytes, acc_mutual_info; TruthfulQA MC1/MC2
    options.py   the suite's ``scoring:`` block: which task reads which key, validation at collection
    score.py     score_reply: one reply against one gold answer, for every task
    text_metrics.py  ROUGE, BLEU and chrF per sample and per corpus (rouge-score, sacrebleu; lazy)
    judge.py     LLM-as-judge: rubric, judge and pairwise prompts, the strict verdict reader
    code.py      code_from_reply / check_program: the program that tests a code-generation reply
    passk.py     pass_at_k: the unbiased pass@k estimator of Chen et al. (2021)
"""

from __future__ import annotations

from . import rules
from .choice import Choice, extract_choice, read_choice
from .cloze import ClozePicks, cloze_continuations, cloze_picks, truthfulqa_mc1, truthfulqa_mc2
from .code import check_program, code_from_reply
from .labels import normalize_choice_target, pick_by_loglikelihood
from .numbers import extract_number, numbers_equal, read_number
from .options import SCORING_OPTIONS, TASKS, validate_options
from .passk import mean_pass_at_k, pass_at_k
from .score import Scored, score_reply

__all__ = [
    "Choice",
    "ClozePicks",
    "SCORING_OPTIONS",
    "Scored",
    "TASKS",
    "check_program",
    "cloze_continuations",
    "cloze_picks",
    "code_from_reply",
    "extract_choice",
    "extract_number",
    "mean_pass_at_k",
    "normalize_choice_target",
    "numbers_equal",
    "pass_at_k",
    "pick_by_loglikelihood",
    "read_choice",
    "read_number",
    "rules",
    "score_reply",
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "validate_options",
]
