"""Helpers for end-to-end tests that run the plugin through pytester as a user would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# The one xdist parametrisation (syrupy's plugin_args): an end-to-end test runs without xdist,
# with xdist loaded but no workers (-n0: the hooks take the worker-less path with the plugin
# present), and with two workers (results cross processes). Parametrise over it with
# @pytest.mark.parametrize("xdist", XDIST_MODES) and pass *xdist to the run.
XDIST_MODES = [pytest.param([], id="no-xdist"), pytest.param(["-n", "0"], id="n0"), pytest.param(["-n", "2"], id="n2")]

MC_ROWS = [
    {"id": "q1", "topic": "geo", "question": "Capital of France?", "choices": ["Berlin", "Paris", "Rome", "Oslo"], "answer": "B"},
    {"id": "q2", "topic": "geo", "question": "Capital of Italy?", "choices": ["Rome", "Paris", "Madrid", "Oslo"], "answer": "A"},
    {"id": "q3", "topic": "geo", "question": "Capital of Norway?", "choices": ["Rome", "Paris", "Madrid", "Oslo"], "answer": "D"},
    {"id": "q4", "topic": "sci", "question": "H2O is?", "choices": ["Salt", "Water", "Gold", "Iron"], "answer": "B"},
    {"id": "q5", "topic": "sci", "question": "Closest planet to the Sun?", "choices": ["Mars", "Venus", "Mercury", "Earth"], "answer": "C"},
    {"id": "q6", "topic": "sci", "question": "Red planet?", "choices": ["Mars", "Venus", "Mercury", "Earth"], "answer": "A"},
]
# What the scripted server answers for each question: geo all right, sci one wrong (q6).
MC_REPLIES = {"q1": "The answer is B", "q2": "答案：A", "q3": "D. Oslo", "q4": "(B)", "q5": "ANSWER: C", "q6": "I think it is D"}

MC_PROMPT = "{question}\n{choices}\nAnswer:"


def mc_user_message(row: dict[str, Any]) -> str:
    choices = "\n".join(f"{label}. {text}" for label, text in zip("ABCD", row["choices"]))
    return f"{row['question']}\n{choices}\nAnswer:"


def mc_replies() -> dict[str, str]:
    return {mc_user_message(row): MC_REPLIES[row["id"]] for row in MC_ROWS}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_mc_suite(pytester: pytest.Pytester, name: str = "quiz", extra: str = "", threshold: float = 0.5) -> Path:
    write_jsonl(pytester.path / "data" / "quiz.jsonl", MC_ROWS)
    text = (
        f"name: {name}\n"
        "task: multiple_choice\n"
        "data:\n  format: jsonl\n  path: data/quiz.jsonl\n  fields: {subject: topic}\n"
        f"prompt: {json.dumps(MC_PROMPT)}\n"
        f"threshold: {threshold}\n"
        "groups: {everything: [geo, sci]}\n" + extra
    )
    return pytester.makefile(".llmeval.yaml", **{name: text})


def server_args(base_url: str, model: str = "test-model") -> list[str]:
    return [f"--llm-model={model}", f"--llm-base-url={base_url}", "--llm-retries=0", "--llm-timeout=10"]


def scripted_args(pytester: pytest.Pytester, replies: dict[str, Any], model: str = "test-model") -> list[str]:
    """``server_args`` for a model scripted in process (``pytest_llmeval.testing``), for tests where
    an HTTP server adds nothing: writes its profile into llm_models.yaml."""
    profile = {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": replies}}
    pytester.makefile(".yaml", llm_models=json.dumps({"models": {model: profile}}))
    return [f"--llm-model={model}", "--llm-retries=0", "--llm-timeout=10"]


def read_results(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def read_samples(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def sample_outcomes(result: pytest.RunResult) -> dict[str, int]:
    """The final line's counts without ``warnings``: a pytester run in this process may warn that
    the already-imported plugin cannot be assertion-rewritten (pytest >= 9.2), which says nothing
    about the samples."""
    outcomes = result.parseoutcomes()
    outcomes.pop("warnings", None)
    return outcomes


# A generated two-subject suite (alg, bio; N samples each, answer "B") for baselines and shards:
# a model's replies are scripted by which sample ids it gets wrong.
GEN_SUBJECTS = ("alg", "bio")
GEN_N = 20  # samples per subject


def gen_rows() -> list[dict[str, Any]]:
    return [{"id": f"{s}{i}", "topic": s, "question": f"{s} question {i}?", "choices": ["w", "x", "y", "z"],
             "answer": "B"} for s in GEN_SUBJECTS for i in range(GEN_N)]


def gen_message(row: dict[str, Any], prompt: str) -> str:
    choices = "\n".join(f"{label}. {text}" for label, text in zip("ABCD", row["choices"]))
    return prompt.format(question=row["question"], choices=choices)


GEN_PROMPT = "{question}\n{choices}\nAnswer:"


def gen_replies(wrong: set[str], prompt: str = GEN_PROMPT) -> dict[str, str]:
    """Every answer right ("B") except the ids in ``wrong`` ("C")."""
    return {gen_message(r, prompt): "C" if r["id"] in wrong else "B" for r in gen_rows()}


def write_gen_suite(pytester: pytest.Pytester, prompt: str = GEN_PROMPT, extra: str = "") -> None:
    write_jsonl(pytester.path / "data" / "gen.jsonl", gen_rows())
    pytester.makefile(".llmeval.yaml", gen=(
        "name: gen\ntask: multiple_choice\n"
        "data:\n  format: jsonl\n  path: data/gen.jsonl\n  fields: {subject: topic}\n"
        f"prompt: {json.dumps(prompt)}\nthreshold: 0.3\ngroups: {{all: [alg, bio]}}\n" + extra))


def quiz_report_with_a_failing_subject(pytester: pytest.Pytester, server: Any) -> Path:
    """A real run of the quiz suite whose sci subject misses its 0.9 threshold; its report folder."""
    write_mc_suite(pytester, extra="thresholds: {sci: 0.9}\n")
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    return pytester.path / "out"
