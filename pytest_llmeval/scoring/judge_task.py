"""``task: judge``: a judge model grades each reply by a rubric (``judge.py``), a second request
per sample, sent through the same engine as the reply (journal, rate limit, retries, deadline).

``scoring:`` keys:
- ``judge`` (required): the model profile that judges, any backend (``--llm-model``'s names).
- ``rubric`` (required): ``{criteria: [...], scale: 5 | pass_fail, levels: {...}}`` (``judge.Rubric``).
- ``pass_at``: on a 1..K scale, the verdict from which a sample passes (``pass_at: 4``), required,
  so passed/missed mean a bar someone chose; refused for pass/fail, where PASS passes.

The sample's score is the verdict on the 0-1 scale (``Rubric.score``); a reply whose verdict
cannot be read is **unparsed** (rule ``no verdict``), never a guessed score. The registry's
scorer reads the JUDGE's reply (the run's layer sends the request and hands it over); the prompt
the judge is shown is built here and in ``judge.py``, and ``prompt_identity`` is what a suite's
version records of it, so a changed judge prompt is "not comparable", not a regression.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from . import judge, rules
from .graded import Graded
from .scored import Gold

__all__ = ["OPTIONS", "check_options", "judge_name", "prompt_identity", "request_messages", "rubric_of", "score"]

OPTIONS = frozenset({"judge", "rubric", "pass_at"})


def rubric_of(options: Mapping[str, Any]) -> judge.Rubric:
    return judge.Rubric.from_record(options.get("rubric"), key="scoring.rubric")


def judge_name(options: Mapping[str, Any]) -> str:
    return str(options["judge"])


def check_options(options: Mapping[str, Any]) -> None:
    name = options.get("judge")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("task judge needs the model profile that judges, e.g. judge: gpt-4o", key="scoring.judge")
    if "rubric" not in options:
        raise ConfigError("task judge needs a rubric: {criteria: [...], scale: 5 or pass_fail}", key="scoring.rubric")
    rubric = rubric_of(options)
    _pass_at(options, rubric)


def _pass_at(options: Mapping[str, Any], rubric: judge.Rubric) -> int | None:
    value = options.get("pass_at")
    if rubric.scale is None:
        if value is not None:
            raise ConfigError("a pass_fail rubric passes on PASS; pass_at is for a 1..K scale",
                              key="scoring.pass_at")
        return None
    if value is None:
        raise ConfigError(f"a 1..{rubric.scale} rubric needs the verdict from which a sample passes, "
                          f"e.g. pass_at: {(rubric.scale + 2) // 2 + 1}", key="scoring.pass_at")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= rubric.scale:
        raise ConfigError(f"expected a verdict, a whole number from 1 to {rubric.scale}, got {value!r}",
                          key="scoring.pass_at")
    return value


def request_messages(options: Mapping[str, Any], question: str, reply: str,
                     reference: str | None) -> tuple[dict[str, str], ...]:
    """What the judge is sent for one sample: the question as the model saw it, its reply, and the
    reference answer."""
    return judge.judge_messages(rubric_of(options), question, reply, reference)


def prompt_identity() -> str:
    """A digest of the judge's prompt templates, for a suite's version."""
    text = json.dumps([judge.JUDGE_SYSTEM, judge.judge_messages(judge.Rubric(("c",)), "q", "a", "r"),
                       judge.judge_messages(judge.Rubric(("c",), scale=5), "q", "a", None)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def score(judge_reply: str, gold: Gold, options: Mapping[str, Any]) -> Graded:
    """The judge's reply read strictly: the verdict's score, or unparsed (rule ``no verdict``)."""
    rubric = rubric_of(options)
    verdict = judge.parse_verdict(judge_reply, rubric)
    if verdict.value is None:
        return Graded(None, False, rules.NO_VERDICT, value=0.0)
    at = _pass_at(options, rubric)
    passed = verdict.value == judge.PASS if at is None else int(verdict.value) >= at
    return Graded(verdict.value, passed, rules.JUDGE_VERDICT, value=rubric.score(verdict.value))
