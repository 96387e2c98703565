"""Suites over the real benchmark files in ../shared/data: item counts, selection, clear errors."""

from __future__ import annotations

import json

import pytest

from tests._shared_data import SHARED_DATA, requires_shared_data
from tests.e2e import server_args

pytestmark = requires_shared_data

MMLU_PROMPT = "The following are multiple choice questions (with answers) about {subject}.\\n\\n{question}\\n{choices}\\nAnswer:"


def _suite(pytester, name, fmt, split, extra=""):
    text = (f"task: multiple_choice\ndata: {{format: {fmt}, path: {json.dumps(str(SHARED_DATA / fmt))}, split: {split}}}\n"
            f"prompt: \"{MMLU_PROMPT}\"\n{extra}")
    pytester.makefile(".llmeval.yaml", **{name: text})


def _count(result):
    return sum("::" in line for line in result.outlines)


def test_mmlu_test_split_collects_every_item(pytester):
    _suite(pytester, "mmlu", "mmlu", "test")
    result = pytester.runpytest("--llm-model=m", "--co", "-q")
    assert _count(result) == 14042


def test_cmmlu_subject_selection(pytester):
    _suite(pytester, "cmmlu", "cmmlu", "test", "few_shot: {n: 5, split: dev}\n")
    result = pytester.runpytest("--llm-model=m", "--co", "-q", "-k", "agronomy or anatomy")
    assert _count(result) == 169 + 148


def test_ceval_test_split_has_no_answers(pytester):
    _suite(pytester, "ceval", "ceval", "test")
    result = pytester.runpytest("--llm-model=m", "--co")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ceval.llmeval.yaml*data.split*no answer*use split: val*"])


def test_ceval_val_runs_against_a_server(pytester, fake_openai_factory):
    server = fake_openai_factory(default_reply="答案：A")
    _suite(pytester, "ceval", "ceval", "val", "thresholds: {law: 0.0}\n")
    result = pytester.runpytest(*server_args(server.base_url), "-k", "law", "--llm-report-dir=out")
    assert result.ret == 0
    rows = json.loads((pytester.path / "out" / "results.json").read_text())["subjects"]
    assert [(r["subject"], r["n"]) for r in rows] == [("law", 24)]
    assert len(server.requests) == 24


def test_gsm8k_numeric_with_few_shot(pytester, fake_openai_factory):
    server = fake_openai_factory(default_reply="So the answer is $1,000.")
    pytester.makefile(".llmeval.yaml", gsm=(
        f"task: numeric\ndata: {{format: gsm8k, path: {json.dumps(str(SHARED_DATA / 'gsm8k'))}, split: test}}\n"
        "prompt: \"Question: {question}\\nAnswer:\"\nfew_shot: {n: 2, split: train, answer: \" {answer}\"}\nlimit: 5\n"))
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out")
    result.assert_outcomes(passed=0)
    first = json.loads((pytester.path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert first["extracted"] == "1000"
    assert first["prompt"].count("Question:") == 3 and "####" in first["prompt"]
