"""The names of the extraction rules: which rule read a sample's answer, or why none could be read.

Every scored reply carries one of these as ``rule`` (samples.jsonl, the HTML sample table, the
JUnit properties), so a reader can audit a score: a run whose answers come from ``option text``
rather than ``answer phrase`` is reading prose, and one full of ``echoed options`` is a model that
stopped following the answer format. A reply is **unparsed** when no answer could be read from
it; its rule then says why (``UNPARSED``). Names are short, stable, human words: users filter on
them, so renaming one is a breaking change.
"""

from __future__ import annotations

__all__ = [
    "ANSWER_PHRASE", "BOXED", "CONFLICTING", "ECHOED_OPTIONS", "JUDGE_VERDICT", "LAST_NUMBER", "LOG_LIKELIHOOD", "LONE_LETTER",
    "MARKER", "NO_ANSWER", "NO_MATCH", "NO_NUMBER", "NO_VERDICT", "OPENING_LETTER", "OPTION_TEXT", "OUTSIDE_CHOICES", "PATTERN",
    "RESTATED_OPTION", "UNPARSED", "WHOLE_REPLY",
]

# multiple_choice, gen: strongest first (choice.py documents the precedence)
ANSWER_PHRASE = "answer phrase"  # "The answer is C", "答案：C", "所以选出选项：D"; numeric: "The answer is 42"
RESTATED_OPTION = "restated option"  # "D. <D's own text>" outside any echoed list of the options
OPENING_LETTER = "opening letter"  # "B", "B) Paris", "(B)" opening the reply
LONE_LETTER = "lone letter"  # the one option letter standing alone in the reply
OPTION_TEXT = "option text"  # no letter, the text of exactly one option quoted
# multiple_choice, ll
LOG_LIKELIHOOD = "log-likelihood"
# numeric
MARKER = "#### marker"
BOXED = "boxed"
LAST_NUMBER = "last number"
# regex, exact_match and contains
PATTERN = "pattern"
WHOLE_REPLY = "whole reply"
# judge: the judge's verdict, read strictly (judge.py)
JUDGE_VERDICT = "judge verdict"

# Why a reply is unparsed.
NO_ANSWER = "no answer"  # no letter, phrase or option text at all
ECHOED_OPTIONS = "echoed options"  # the reply only repeats the option list
CONFLICTING = "conflicting answers"  # two conclusions, or several letters, disagree: never a guess
OUTSIDE_CHOICES = "outside the choices"  # the reply commits to a letter the question does not have
NO_NUMBER = "no number"
NO_MATCH = "no match"
NO_VERDICT = "no verdict"  # task judge: the judge's reply has no verdict that can be read

UNPARSED: frozenset[str] = frozenset({NO_ANSWER, ECHOED_OPTIONS, CONFLICTING, OUTSIDE_CHOICES, NO_NUMBER, NO_MATCH, NO_VERDICT})
