"""The engine end to end, through pytester, against a fault-injecting server on 127.0.0.1:
every fault is retried to the same results as a fault-free run, requests sent = samples + retries,
4xx are never retried, and requests run ``--llm-concurrency`` at a time."""

from __future__ import annotations

import pytest

from tests.e2e import XDIST_MODES, read_results, read_samples, write_jsonl
from tests.servers.fault_server import FaultServer

ROWS = [{"id": f"s{i:02d}", "topic": "math" if i % 2 else "facts", "question": f"question {i}", "answer": f"a{i}"}
        for i in range(12)]
FAULTS = {  # prompt -> what its successive attempts get
    "question 0": ["429", "429"], "question 1": ["500"], "question 2": ["503", "500"], "question 3": ["hang"],
    "question 4": ["truncated"], "question 5": ["reset"], "question 6": ["reset", "truncated", "429"],
}
REPLIES = {row["question"]: row["answer"] for row in ROWS}


def _suite(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "data" / "qa.jsonl", ROWS)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\n"
        "prompt: '{question}'\nthreshold: 0.9\n"))


def _run(pytester: pytest.Pytester, server: FaultServer, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-report-dir=out", "-p", "no:cacheprovider",
        *args)


def _rows(folder) -> list[tuple[str, str, int, float]]:
    return [(r["subject"], r["model"], r["n"], r["score"]) for r in read_results(folder)["subjects"]]


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_faults_are_retried_to_the_fault_free_results(pytester, xdist):
    _suite(pytester)
    with FaultServer(replies=REPLIES) as clean:
        assert _run(pytester, clean, "--llm-cache=off", "--llm-report-dir=clean").ret == 0
    with FaultServer(FAULTS, replies=REPLIES, hang_s=3, retry_after_s=0.3) as server:
        result = _run(pytester, server, "--llm-retries=3", "--llm-timeout=0.5", "--llm-cache=off", *xdist)
        log = server.log
    result.assert_outcomes(passed=12)
    assert _rows(pytester.path / "out") == _rows(pytester.path / "clean")
    samples = read_samples(pytester.path / "out")
    retries = {s["id"]: s["retries"] for s in samples}
    assert retries == {f"s{i:02d}": len(FAULTS.get(f"question {i}", [])) for i in range(12)}
    assert len(log) == len(ROWS) + sum(retries.values())  # requests sent = samples + retries, exactly
    answered = [e.prompt for e in log if e.outcome == "ok"]
    assert sorted(answered) == sorted(REPLIES)  # every sample answered once
    waits = [b.arrived - a.arrived for a in log for b in log
             if a.prompt == b.prompt == "question 0" and b.attempt == a.attempt + 1]
    assert waits and min(waits) >= 0.3  # Retry-After honoured
    result.stdout.fnmatch_lines(["*m: 12 samples, 23 requests, 11 retries, 0 from cache, 0 errors*"])


@pytest.mark.parametrize("status", ["400", "401"])
def test_client_errors_are_never_retried(pytester, status):
    _suite(pytester)
    with FaultServer({"question 0": [status] * 5}, replies=REPLIES) as server:
        result = _run(pytester, server, "--llm-retries=3", "--llm-cache=off", "-p", "no:randomly")
        log = server.log
    assert server.requests_for("question 0") == 1
    if status == "400":
        result.assert_outcomes(passed=11, errors=1)
    else:  # fatal: the first request goes alone, so nothing else was sent either
        assert len(log) == 1 and result.ret != 0
        result.stdout.fnmatch_lines(["*rejected the API key (HTTP 401)*"])


def test_retries_running_out_are_errors(pytester):
    _suite(pytester)
    with FaultServer({"question 1": ["503"] * 5}, replies=REPLIES, retry_after_s=0.01) as server:
        result = _run(pytester, server, "--llm-retries=2", "--llm-cache=off")
    assert server.requests_for("question 1") == 3
    result.assert_outcomes(passed=11, errors=1)
    result.stdout.fnmatch_lines(["*HTTP 503*"])


def test_requests_run_concurrency_at_a_time(pytester):
    rows = [{"id": f"s{i}", "question": f"q{i}", "answer": "ok"} for i in range(24)]
    write_jsonl(pytester.path / "data" / "qa.jsonl", rows)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\ndata: {format: jsonl, path: data/qa.jsonl, fields: {target: answer}}\n"
        "prompt: '{question}'\n"))
    with FaultServer(delay_s=0.3) as server:
        result = _run(pytester, server, "--llm-concurrency=6", "--llm-cache=off")
        log = server.log
    result.assert_outcomes(passed=24)
    assert len(log) == 24 and server.max_active == 6


def test_a_run_deadline_turns_unanswered_samples_into_errors(pytester):
    """Samples not answered by the deadline are errors, the one in flight too: at 0.4 s a reply
    and one at a time, at most 6 of 12 fit in 2.5 s (start-up counts), and none after it."""
    _suite(pytester)
    with FaultServer(replies=REPLIES, delay_s=0.4) as server:
        result = _run(pytester, server, "--llm-concurrency=1", "--llm-deadline=2.5", "--llm-cache=off")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) <= 6 and outcomes["errors"] == 12 - outcomes.get("passed", 0)
    result.stdout.fnmatch_lines(["*deadline (--llm-deadline)*"])
