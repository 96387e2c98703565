"""Bad input gets one line; backend failures are errors, never misses; refused keys stop the run."""

from __future__ import annotations

import pytest

from tests.e2e import XDIST_MODES, mc_replies, read_samples, server_args, write_jsonl, write_mc_suite


def _one_line_error(result: pytest.RunResult, *needles: str) -> str:
    lines = [line for line in result.outlines if all(n in line for n in needles)]
    assert lines, result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    return lines[0]


@pytest.mark.parametrize(("body", "needles"), [
    ("task: multiple_choice\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\ntresholds: {}\n",
     ["bad.llmeval.yaml:4", "tresholds", "unknown key"]),
    ("task: mc\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n", ["bad.llmeval.yaml:1", "task", "multiple_choice"]),
    ("task: exact_match\ndata: {format: jsonl, path: d.jsonl}\n", ["bad.llmeval.yaml", "prompt", "missing"]),
    ("task: exact_match\ndata: {format: jsonl, path: d.jsonl}\nprompt: '{nope}'\n", ["bad.llmeval.yaml", "prompt", "{nope}"]),
    ("task: exact_match\ndata: {format: jsonl, path: missing.jsonl}\nprompt: x\n", ["missing.jsonl"]),
    ("task: exact_match\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\nthresholds: {nosuch: 0.5}\n",
     ["bad.llmeval.yaml", "thresholds", "nosuch"]),
    ("task: exact_match\nmode: ll\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n", ["bad.llmeval.yaml", "ll"]),
    ("task: json_match\nmode: ll\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n",
     ["bad.llmeval.yaml", "mode: 'll' works only with task: multiple_choice"]),
    ("task: exact_match\nmode: cloze\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n",
     ["bad.llmeval.yaml", "mode: 'cloze' works only with task: multiple_choice"]),
    ("task: multiple_choice\nmode: clozed\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n",
     ["bad.llmeval.yaml:2", "mode", "unknown mode 'clozed' (expected one of: gen, ll, cloze)"]),
    ("task: exact_match\ndata: {format: xml, path: d.jsonl}\nprompt: x\n",
     ["bad.llmeval.yaml:2", "data.format", "unknown format 'xml'", "json"]),
    ("task: json_match\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n", ["d.jsonl:1:", "answer 'a' is not JSON"]),
    ("task: regex\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n", ["bad.llmeval.yaml", "scoring.pattern"]),
    ("task: [unclosed\n", ["bad.llmeval.yaml:1", "invalid YAML"]),
    ("task: numeric\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n", ["d.jsonl:1:", "holds no number"]),
])
def test_invalid_suite_fails_collection_with_one_line(pytester, body, needles):
    write_jsonl(pytester.path / "d.jsonl", [{"question": "q", "answer": "a"}])
    pytester.makefile(".llmeval.yaml", bad=body)
    result = pytester.runpytest("--llm-model=m", "--llm-base-url=http://127.0.0.1:9/v1")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    _one_line_error(result, *needles)


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_backend_failures_are_errors_not_misses(pytester, fake_openai_factory, xdist):
    server = fake_openai_factory(replies=mc_replies(), fail_first=10_000, fail_status=500)
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out", *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*6 error*"])
    assert "missed" not in result.outlines[-1]
    samples = read_samples(pytester.path / "out")
    assert all(s["correct"] is None and s["error"] for s in samples)


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_rejected_key_stops_the_session_once(pytester, fake_openai_factory, monkeypatch, xdist):
    server = fake_openai_factory(replies=mc_replies(), required_key="sk-right-key")
    monkeypatch.setenv("QUIZ_KEY", "sk-wrong-key-123")
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-api-key-env=QUIZ_KEY", "--llm-report-dir=out", *xdist)
    assert result.ret != 0
    assert len(server.requests) <= 2  # one per process at most
    _one_line_error(result, "401", "API key")
    out = result.stdout.str() + (pytester.path / "out" / "samples.jsonl").read_text()
    assert "sk-wrong-key-123" not in out


def test_unknown_model_stops_the_session(pytester, fake_openai_factory):
    server = fake_openai_factory(replies=mc_replies(), known_models={"real-model"})
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(server.base_url, model="typo-model"))
    assert result.ret != 0 and len(server.requests) == 1
    _one_line_error(result, "404", "typo-model")


def test_unknown_profile_key_is_a_usage_error(pytester):
    pytester.makefile(".yaml", llm_models="models:\n  m:\n    backend: openai\n    base_ur1: http://x\n")
    write_mc_suite(pytester)
    result = pytester.runpytest("--llm-model=m")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm_models.yaml:4*base_ur1*unknown key*"])
