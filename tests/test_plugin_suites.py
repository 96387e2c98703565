"""Suite files end to end: collection, node ids, keywords, outcomes, summary and exit code."""

from __future__ import annotations

import pytest

from tests.e2e import (
    XDIST_MODES, mc_replies, read_results, read_samples, server_args, write_mc_suite,
)


@pytest.fixture
def quiz_server(fake_openai_factory):
    return fake_openai_factory(replies=mc_replies(), default_reply="no idea")


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_right_answers_pass_wrong_ones_are_missed(pytester, quiz_server, xdist):
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), *xdist)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*llmeval summary*test-model*", "*5 passed*1 missed*"])
    assert result.ret == 0


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_unmet_threshold_fails_the_run_with_a_red_line(pytester, quiz_server, xdist):
    write_mc_suite(pytester, extra="thresholds: {sci: 0.9}\n")
    result = pytester.runpytest(*server_args(quiz_server.base_url), *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*threshold not met*sci*"])


def test_verdict_holds_without_the_terminal(pytester, quiz_server):
    write_mc_suite(pytester, extra="thresholds: {sci: 0.9}\n")
    result = pytester.runpytest(*server_args(quiz_server.base_url), "-p", "no:terminal")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    write_mc_suite(pytester)
    assert pytester.runpytest(*server_args(quiz_server.base_url), "-p", "no:terminal").ret == 0


def test_strict_turns_misses_into_failures(pytester, quiz_server):
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--llm-strict")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*wrong answer: extracted 'D', expected 'A'*"])


def test_node_ids_are_readable_and_stable(pytester, quiz_server):
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--co", "-q")
    result.stdout.fnmatch_lines([
        "quiz.llmeval.yaml::geo::q1[[]test-model[]]",
        "quiz.llmeval.yaml::sci::q6[[]test-model[]]",
    ])
    again = pytester.runpytest(*server_args(quiz_server.base_url), "--co", "-q")
    ids = lambda run: [line for line in run.outlines if "::" in line]
    assert ids(again) == ids(result) and len(ids(result)) == 6


@pytest.mark.parametrize(("expr", "count"), [
    ("geo", 3), ("sci and not q6", 2), ("everything", 6), ("quiz", 6), ("test", 6), ("nothing-here", 0),
])
def test_keywords_select_subjects_groups_suite_and_model(pytester, quiz_server, expr, count):
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--co", "-q", "-k", expr)
    assert sum("::" in line for line in result.outlines) == count


def test_two_models_give_one_column_each(pytester, fake_openai_factory):
    server = fake_openai_factory(replies=mc_replies(), default_reply="?")
    write_mc_suite(pytester)
    result = pytester.runpytest(
        "--llm-model=alpha", "--llm-model=beta", f"--llm-base-url={server.base_url}", "--llm-report-dir=out")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*alpha*beta*"])
    rows = read_results(pytester.path / "out")["subjects"]
    assert sorted((r["model"], r["subject"]) for r in rows) == [
        ("alpha", "geo"), ("alpha", "sci"), ("beta", "geo"), ("beta", "sci")]
    assert {r["model"] for r in server.requests} == {"alpha", "beta"}


def test_reports_hold_rows_and_samples(pytester, quiz_server):
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--llm-report-dir=out")
    assert result.ret == 0
    out = pytester.path / "out"
    data = read_results(out)
    assert set(data) >= {"run", "subjects", "groups"}
    assert {"models", "options", "versions", "started", "duration_s", "environment"} <= set(data["run"])
    sci = next(r for r in data["subjects"] if r["subject"] == "sci")
    assert (sci["n"], sci["correct"], sci["threshold"], sci["passed"]) == (3, 2, 0.5, True)
    assert sci["ci_low"] < sci["score"] < sci["ci_high"]
    assert len(sci["version"]) == 8
    group = data["groups"][0]
    assert (group["group"], group["n"], group["correct"]) == ("everything", 6, 5)
    samples = {s["id"]: s for s in read_samples(out)}
    assert samples["q6"]["correct"] is False and samples["q6"]["extracted"] == "D" and samples["q6"]["target"] == "A"
    assert samples["q2"]["reply"] == "答案：A" and samples["q2"]["error"] is None
    assert {"model", "suite", "subject", "id", "version", "prompt", "reply", "extracted", "target", "correct",
            "error", "latency_s", "prompt_tokens", "completion_tokens"} <= set(samples["q1"])
    assert (out / "results.csv").read_text(encoding="utf-8").count("\n") == 3 + 1 + 1  # rows, header, the model's tokens


def test_xdist_gives_the_same_rows(pytester, quiz_server):
    write_mc_suite(pytester)
    pytester.runpytest(*server_args(quiz_server.base_url), "--llm-report-dir=a")
    pytester.runpytest(*server_args(quiz_server.base_url), "--llm-report-dir=b", "-n", "2")
    a, b = read_results(pytester.path / "a"), read_results(pytester.path / "b")
    assert a["subjects"] == b["subjects"] and a["groups"] == b["groups"]


def test_limit_picks_the_same_samples_every_time(pytester, quiz_server):
    write_mc_suite(pytester)
    first = pytester.runpytest(*server_args(quiz_server.base_url), "--co", "-q", "--llm-limit=2")
    second = pytester.runpytest(*server_args(quiz_server.base_url), "--co", "-q", "--llm-limit=2", "-p", "xdist", "-n", "2")
    ids = [line for line in first.outlines if "::" in line]
    assert len(ids) == 4
    assert ids == [line for line in second.outlines if "::" in line]


def test_ini_options_work_like_flags(pytester, quiz_server):
    write_mc_suite(pytester)
    pytester.makeini(f"[pytest]\nllm_model = test-model\nllm_base_url = {quiz_server.base_url}\nllm_retries = 0\n")
    pytester.runpytest().assert_outcomes(passed=5)
