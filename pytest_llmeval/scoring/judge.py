"""LLM-as-judge: the rubric, the prompts built from it, and the strict reading of the judge's reply.

The prompts follow what judge studies found to work (MT-Bench's single-answer and pairwise judges,
G-Eval, Prometheus): the criteria and the meaning of every scale point are spelled out, the
reference answer is shown when there is one, the judge reasons first, and the verdict comes last,
alone on a line, in a form no ordinary sentence produces: ``Verdict: [[4]]``, ``Verdict: [[PASS]]``,
``Verdict: [[A]]``.

Reading the verdict is strict, because a misread verdict is a wrong score that nobody sees. Every
``[[...]]`` in the reply is a claim (full-width brackets and digits are folded first):
- no claim: **unparsed** ("no verdict");
- a claim that is not one of the rubric's values (``[[4.5]]`` or ``[[6]]`` on 1-5, ``[[N]]``,
  ``[[PASS or FAIL]]``): **unparsed**, never rounded or clipped;
- claims naming different values (the judge restated the scale, or changed its mind): **unparsed**;
- otherwise the one value claimed, however often and wherever it is written.
Nothing is read from free text ("I'd give it a 4"): that would be a guess.

Pairwise: the judge sees two answers to the same question and names the better one, or a tie.
Judges favour a position (usually the first), so every pair is asked twice, this run's reply
first and then second, and ``combine_orders`` counts a win or a loss only when both orders agree;
orders that disagree are a tie, and a pair with an unparsed order is unparsed (MT-Bench's rule,
with unparsed kept apart instead of guessed).

Everything the judge is shown is decided here, so the prompt text can be part of a suite's
version: a changed judge prompt or rubric makes results "not comparable", not a regression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .text import fold_width

__all__ = [
    "JUDGE_SYSTEM", "MAX_SCALE", "OUTCOMES", "PREFERENCES", "Rubric", "Verdict", "combine_orders",
    "judge_messages", "pairwise_messages", "parse_preference", "parse_verdict",
]

Message = dict[str, str]  # {"role": ..., "content": ...}, the chat message every backend takes

MAX_SCALE = 10
PASS, FAIL = "PASS", "FAIL"
PREFERENCES: tuple[str, ...] = ("A", "B", "TIE")
OUTCOMES: tuple[str, ...] = ("win", "tie", "loss", "unparsed")

JUDGE_SYSTEM = (
    "You are a careful and impartial judge of answers written by an AI assistant. You grade only "
    "against the criteria you are given. You are not swayed by an answer's length, confidence or "
    "style, and you never answer the question yourself."
)
_SINGLE_TASK = (
    "Grade the answer below.\n\n{blocks}\n\n[Criteria]\n{criteria}\n\n[Verdicts]\n{scale}\n\n"
    "First explain in a few sentences how well the answer meets each criterion{against_reference}. "
    "Then write your verdict alone on the last line, exactly in this form:\n{form}"
)
_PAIR_TASK = (
    "Compare two answers to the same question.\n\n{blocks}\n\n[Criteria]\n{criteria}\n\n"
    "Decide which answer meets the criteria better. Which answer comes first, and how long either "
    "is, says nothing about its quality. First explain in a few sentences how each answer meets "
    "the criteria{against_reference}. Then write your verdict alone on the last line, exactly in "
    "one of these forms:\nVerdict: [[A]]\t(answer A is better)\nVerdict: [[B]]\t(answer B is "
    "better)\nVerdict: [[TIE]]\t(neither is better)"
)
_PAIR_CRITERIA = ("The answer is correct.", "The answer does what the question asks, and nothing it should not.")
_CLAIM = re.compile(r"\[\[([^\[\]\n]*)\]\]")


@dataclass(frozen=True, slots=True)
class Rubric:
    """What the judge grades against: criteria, and either a 1..``scale`` score or pass/fail.

    ``levels`` describes verdicts in words (``{1: "wrong", 5: "correct and complete"}``, or
    ``{"pass": "...", "fail": "..."}``); each is shown to the judge beside its value.
    """

    criteria: tuple[str, ...]
    scale: int | None = None  # None: pass/fail
    levels: Mapping[str, str] = field(default_factory=dict)

    @property
    def values(self) -> tuple[str, ...]:
        """The verdicts, as written between the brackets: ``PASS``/``FAIL`` or ``1``..``K``."""
        return (PASS, FAIL) if self.scale is None else tuple(str(v) for v in range(1, self.scale + 1))

    def score(self, verdict: str) -> float:
        """A verdict on the plugin's 0-1 scale: PASS 1, FAIL 0; ``v`` of K is (v - 1) / (K - 1)."""
        if self.scale is None:
            return 1.0 if verdict == PASS else 0.0
        return (int(verdict) - 1) / (self.scale - 1)

    def to_record(self) -> dict[str, Any]:
        """The rubric as plain data, the form suite files use; ``from_record`` reads it back."""
        record: dict[str, Any] = {"criteria": list(self.criteria), "scale": self.scale or "pass_fail"}
        if self.levels:
            record["levels"] = {k.lower() if self.scale is None else int(k): v for k, v in self.levels.items()}
        return record

    @classmethod
    def from_record(cls, data: object, *, where: str | None = None, key: str = "rubric") -> Rubric:
        """A rubric from a suite's ``rubric:`` mapping; ConfigError with one line naming the key."""
        if not isinstance(data, Mapping):
            raise ConfigError("expected a mapping with criteria and scale", where=where, key=key)
        unknown = sorted(str(k) for k in data if k not in ("criteria", "scale", "levels"))
        if unknown:
            raise ConfigError("unknown key (expected criteria, scale, levels)", where=where, key=f"{key}.{unknown[0]}")
        scale = _read_scale(data.get("scale", "pass_fail"), where, f"{key}.scale")
        criteria = _read_criteria(data.get("criteria"), where, f"{key}.criteria")
        levels = _read_levels(data.get("levels", {}), scale, where, f"{key}.levels")
        return cls(criteria=criteria, scale=scale, levels=levels)


def _read_scale(value: object, where: str | None, key: str) -> int | None:
    if value == "pass_fail":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_SCALE:
        raise ConfigError(f"expected pass_fail or a whole number from 2 to {MAX_SCALE} (a 1..N scale), got {value!r}",
                          where=where, key=key)
    return value


def _read_criteria(value: object, where: str | None, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(c, str) and c.strip() for c in items):
        raise ConfigError("expected one criterion or a list of them, each a non-empty string", where=where, key=key)
    return tuple(" ".join(c.split()) for c in items)


def _read_levels(value: object, scale: int | None, where: str | None, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError("expected a mapping from verdict to its description", where=where, key=key)
    expected = "pass, fail" if scale is None else f"whole numbers 1 to {scale}"
    levels = {}
    for level, text in value.items():
        name = str(level).upper() if scale is None else str(level)
        valid = name in (PASS, FAIL) if scale is None else (isinstance(level, int) and not isinstance(level, bool)
                                                              and 1 <= level <= scale)
        if not valid:
            raise ConfigError(f"{level!r} is not a verdict of this rubric (expected {expected})", where=where, key=key)
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("expected a non-empty description", where=where, key=f"{key}.{level}")
        levels[name] = " ".join(text.split())
    return levels


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the judge decided: ``value`` (a rubric value, or ``A``/``B``/``TIE``), or ``None`` when
    the reply is unparsed, with ``problem`` saying why in one line."""

    value: str | None
    problem: str | None = None

    @property
    def parsed(self) -> bool:
        return self.value is not None


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _blocks(question: str, reference: str | None, answers: Sequence[tuple[str, str]]) -> str:
    parts = [f"[Question]\n{question.strip()}"]
    if reference is not None:
        parts.append(f"[Reference answer]\n{reference.strip()}")
    parts += [f"[{title}]\n{text.strip() or '(empty)'}" for title, text in answers]
    return "\n\n".join(parts)


def _scale_text(rubric: Rubric) -> str:
    if rubric.scale is None:
        meanings = {PASS: "the answer meets every criterion", FAIL: "it misses at least one"} | dict(rubric.levels)
        return _bullets([f"{v}: {meanings[v]}" for v in (PASS, FAIL)])
    top = str(rubric.scale)
    meanings = {"1": "it meets none of the criteria", top: "it fully meets every criterion"} | dict(rubric.levels)
    lines = [f"{v}: {meanings[v]}" for v in rubric.values if v in meanings]
    return f"A whole number from 1 to {top}.\n" + _bullets(lines)


def _form(rubric: Rubric) -> str:
    if rubric.scale is None:
        return "Verdict: [[PASS]]\nor\nVerdict: [[FAIL]]"
    return f"Verdict: [[N]]\nwhere N is the whole number from 1 to {rubric.scale}."


def judge_messages(rubric: Rubric, question: str, reply: str, reference: str | None = None) -> tuple[Message, ...]:
    """The chat messages that ask the judge to grade ``reply`` to ``question`` by ``rubric``."""
    against = ", and how it compares with the reference answer" if reference is not None else ""
    task = _SINGLE_TASK.format(
        blocks=_blocks(question, reference, [("Answer to grade", reply)]), criteria=_bullets(rubric.criteria),
        scale=_scale_text(rubric), against_reference=against, form=_form(rubric))
    return {"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": task}


def pairwise_messages(question: str, first: str, second: str, *, reference: str | None = None,
                      criteria: Sequence[str] = ()) -> tuple[Message, ...]:
    """The messages that ask which of two answers is better: ``first`` is shown as A, ``second`` as B.
    Without ``criteria``: correctness, and doing what the question asks."""
    against = ", and how each compares with the reference answer" if reference is not None else ""
    task = _PAIR_TASK.format(
        blocks=_blocks(question, reference, [("Answer A", first), ("Answer B", second)]),
        criteria=_bullets(tuple(criteria) or _PAIR_CRITERIA), against_reference=against)
    return {"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": task}


def _read_claims(text: str, values: Sequence[str]) -> Verdict:
    claims = [" ".join(c.split()) for c in _CLAIM.findall(fold_width(text))]
    if not claims:
        return Verdict(None, "no verdict: no [[...]] in the reply")
    by_name = {v.upper(): v for v in values}
    for claim in claims:
        if claim.upper() not in by_name:
            return Verdict(None, f"[[{claim}]] is not a verdict (expected one of {', '.join(values)})")
    distinct = list(dict.fromkeys(by_name[c.upper()] for c in claims))
    if len(distinct) > 1:
        return Verdict(None, "conflicting verdicts " + " and ".join(f"[[{v}]]" for v in distinct))
    return Verdict(distinct[0])


def parse_verdict(text: str, rubric: Rubric) -> Verdict:
    """The judge's verdict on one answer (``PASS``/``FAIL`` or ``"1"``..``"K"``), or unparsed."""
    return _read_claims(text, rubric.values)


def parse_preference(text: str) -> Verdict:
    """The judge's choice between two answers: ``A``, ``B`` or ``TIE``, or unparsed."""
    return _read_claims(text, PREFERENCES)


def combine_orders(new_first: Verdict, new_second: Verdict) -> str:
    """This run's reply against the baseline's, from both orders of asking: ``new_first`` is the
    judge's choice when this run's reply was answer A, ``new_second`` when it was answer B.

    ``win`` or ``loss`` only when both orders prefer the same reply; ``tie`` when both say tie or
    the orders disagree (the judge followed the position, not the answer); ``unparsed`` when
    either order has no verdict.
    """
    if not (new_first.parsed and new_second.parsed):
        return "unparsed"
    new_better = (new_first.value == "A", new_second.value == "B")
    old_better = (new_first.value == "B", new_second.value == "A")
    if all(new_better):
        return "win"
    if all(old_better):
        return "loss"
    return "tie"
