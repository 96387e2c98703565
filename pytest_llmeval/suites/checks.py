"""The data-validation pass: once per suite, over what the loaders produced, before any item exists.

Loaders already refuse what they can see alone (a file that cannot be parsed, a file without
rows, a CSV row with too few fields). This pass checks what only the suite gives meaning to, so
that a run never measures something other than what the data says:

- ids are unique within a subject, also once made into node ids (``a/b`` and ``a_b`` both become
  ``a_b``): two rows under one id would run twice, count once, and break baseline pairing;
- every sample has an answer to score against, and the task can read it (``Task.read_gold``: a
  multiple-choice answer names one option, a numeric one holds a number);
- every option of a multiple-choice sample has text (a NaN or null would be shown as ``nan``);
- every row field a template uses has a value (``{question}`` must not be empty), so nothing is
  asked as ``None`` or ``nan``;
- few-shot examples obey the same rules, and there are as many as ``few_shot.n`` asks for.

Every problem is ``file:line: what`` (the row's ``Sample.origin``); the first is raised as the
one line, with a count of the others, so a file with many problems is not fixed one run at a time
without knowing.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from ..samples import Sample
from ..scoring.scored import Gold
from ..scoring.tasks import REGISTRY
from .schema import SuiteConfig

__all__ = ["Problems", "check_samples", "node_name", "template_names"]

# Fields the templates may use that the loaders derive, and that are checked as answers/options.
_DERIVED = frozenset({"subject", "subject_id", "choices", "target"})
_NO_VALUE = "has no value (empty, null or NaN in the data)"


def node_name(text: str) -> str:
    """A subject or sample id as one part of a node id: ``::``, ``/`` and line breaks would split
    or garble it, so they become ``_``."""
    for part in ("::", "/", "\r", "\n", "\t"):
        text = text.replace(part, "_")
    return text or "_"


def template_names(templates: Iterable[str | None]) -> set[str]:
    """The row fields the templates refer to (``{question}``, ``{meta.a}`` -> ``meta``)."""
    names: set[str] = set()
    for template in templates:
        for _, name, _, _ in string.Formatter().parse(template or ""):
            if name:
                names.add(name.split(".")[0].split("[")[0])
    return names


@dataclass
class Problems:
    """Every problem of one suite's data, in the order found; ``raise_first`` reports them."""

    found: list[tuple[str, str, str | None]] = field(default_factory=list)  # (where, what, key)

    def add(self, where: str, what: str, key: str | None = None) -> None:
        self.found.append((where, what, key))

    def raise_first(self) -> None:
        if not self.found:
            return
        where, what, key = self.found[0]
        more = len(self.found) - 1
        if more:
            what += f" (and {more} more problem{'s' if more > 1 else ''} in this suite's data)"
        raise ConfigError(what, where=where, key=key)


def check_samples(config: SuiteConfig, subject: str, samples: Sequence[Sample], problems: Problems, *,
                  suite: str, role: str = "sample") -> list[Sample]:
    """The subject's samples with multiple-choice answers as letters; each problem added to
    ``problems``. ``role`` is "sample" or "few-shot example", said in the message."""
    fields = template_names(_templates(config)) - _DERIVED
    out = []
    if not _has_answers(config, samples, problems, suite):
        return list(samples)
    first: dict[str, Sample] = {}
    for s in samples:  # row by row, so problems come in the order of the file
        where = s.origin or f"{suite}: {subject} {role} {s.id}"
        before = len(problems.found)
        _unique_id(s, first, subject, where, role, problems)
        _cells(s, fields, where, role, problems, REGISTRY[config.task].needs_target)
        normalised = _answer(config, s, where, role, problems)
        out.append(normalised if len(problems.found) == before else s)
    return out


def _templates(config: SuiteConfig) -> list[str | None]:
    answer = config.few_shot.answer if config.few_shot else None
    return [config.prompt, config.system, config.preamble, answer]


def _has_answers(config: SuiteConfig, samples: Sequence[Sample], problems: Problems, suite: str) -> bool:
    """C-Eval's test split ships without answers: one problem for the split, not one per row."""
    if config.data.format == "ceval" and samples and all(s.target is None for s in samples):
        split = config.data.split or "the default split"
        problems.add(suite, f"{split} has no answers to score against (C-Eval's test split ships without "
                            "answers: use split: val)", "data.split")
        return False
    return True


def _unique_id(s: Sample, first: dict[str, Sample], subject: str, where: str, role: str, problems: Problems) -> None:
    """Two rows under one node id would run twice, count once, and break baseline pairing."""
    name = node_name(s.id)
    seen = first.setdefault(name, s)
    if seen is s:
        return
    same = "id" if seen.id == s.id else f"id ({s.id!r} and {seen.id!r} both become node id {name!r})"
    problems.add(where, f"{role} {same} {s.id!r} of subject {subject!r} is also at {_line_of(seen)}; "
                        "ids must be unique within a subject")


def _line_of(sample: Sample) -> str:
    """``line 7`` for a row of the same file, the whole origin otherwise."""
    where = sample.origin
    head, colon, line = where.rpartition(":")
    return f"line {line}" if colon and line.isdigit() else (where or "another row")


def _cells(s: Sample, fields: set[str], where: str, role: str, problems: Problems, needs_target: bool) -> None:
    if needs_target and (s.target is None or not s.target.strip()):
        problems.add(where, f"{role} {s.id!r}: no answer to score against: the answer {_NO_VALUE}")
    for label, text in zip(s.labels, s.choices):
        if not text.strip():
            problems.add(where, f"{role} {s.id!r}: option {label} {_NO_VALUE}")
    for name in sorted(fields & set(s.fields)):
        if _no_value(s.fields[name], empty=name == "question"):
            problems.add(where, f"{role} {s.id!r}: {{{name}}} {_NO_VALUE}")


def _no_value(value: Any, *, empty: bool) -> bool:
    """None and NaN are never values; empty text is not a value where the field is required."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return True
    return empty and isinstance(value, str) and not value.strip()


def _answer(config: SuiteConfig, s: Sample, where: str, role: str, problems: Problems) -> Sample:
    """The gold answer as the task compares it (a multiple-choice letter), checked by the task's ``read_gold``."""
    task = REGISTRY[config.task]
    gold = s.target or ""
    if task.needs_target and not gold.strip():
        return s  # already a problem
    if task.needs_choices and not s.choices:
        problems.add(where, f"{role} {s.id!r} has no options; map them with fields.choices")
        return s
    if task.read_gold is None:
        return s
    try:
        return replace(s, target=task.read_gold(Gold(gold, s.labels, s.choices, s.fields)))
    except ValueError as exc:
        problems.add(where, f"{role} {s.id!r}: {exc}")
    return s
