"""The shipped judge calibration set: its shape, its labelling rule, and that its questions and
replies are what the example suites and the bundled model give today."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "example_suites" / "data"
PREFIX = 12  # characters of a stored reply that a fresh greedy reply must repeat
FIELDS = ["id", "suite", "subject", "prompt", "reference", "reply", "finish_reason", "label", "score", "why"]


def maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_judge_calibration", DATA / "make_judge_calibration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "judge_calibration.jsonl").read_text(encoding="utf-8").splitlines()]


def test_every_record_is_labelled_by_the_documented_rule(records: list[dict[str, Any]]) -> None:
    assert len(records) == 78 and len({r["id"] for r in records}) == 78
    for r in records:
        assert [k for k in r if k != "reread"] == FIELDS
        assert r["label"] in ("PASS", "FAIL") and r["score"] in (1, 2, 3, 4, 5) and r["why"].strip()
        assert (r["label"] == "PASS") == (r["score"] >= 3), r["id"]  # PASS is a score of 3 or more
    assert 0.3 < sum(r["label"] == "PASS" for r in records) / len(records) < 0.7  # both verdicts well represented


def test_the_reread_tenth_is_recorded(records: list[dict[str, Any]]) -> None:
    reread = [r for r in records if "reread" in r]
    assert len(reread) == 8
    for r in reread:
        assert set(r["reread"]) == {"label", "score"} and r["reread"]["label"] in ("PASS", "FAIL")


def test_questions_and_references_are_the_example_suites_today(records: list[dict[str, Any]]) -> None:
    from pytest_llmeval.prompts import render_messages_text

    make = maker()
    fresh = {q["id"]: q for q in [*make.suite_questions(), *make.python_test_questions()]}
    assert sorted(fresh) == sorted(r["id"] for r in records)
    for r in records:
        assert render_messages_text(fresh[r["id"]]["messages"]) == r["prompt"], r["id"]
        assert fresh[r["id"]]["reference"] == r["reference"], r["id"]


def test_replies_are_the_bundled_models(records: list[dict[str, Any]], smollm2_backend: Any) -> None:
    """Three short replies generated again, as the script generates them, start the same way.

    Only the start: greedy decoding follows the arithmetic of the llama.cpp build and CPU, and at a
    near tie between two tokens another machine can take the other one and go on differently (CI's
    machine continued cap-2's "Il Coriobella, " with "il Coriobella, ..." instead of "Italy.").
    A reply that is not the model's own differs from its first words."""
    from pytest_llmeval.backends.base import GenerateRequest

    make = maker()
    fresh = {q["id"]: q for q in [*make.suite_questions(), *make.python_test_questions()]}
    for r in [r for r in records if r["id"] in ("world-facts/geography/geo-02", "arithmetic/arithmetic/7",
                                                 "test_capitals/capitals-contains/cap-2")]:
        request = GenerateRequest(messages=fresh[r["id"]]["messages"], max_tokens=make.MAX_TOKENS, temperature=0.0)
        start = r["reply"][:PREFIX]
        assert smollm2_backend.generate(request).text.startswith(start), r["id"]
