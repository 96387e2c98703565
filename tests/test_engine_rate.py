"""The shared rate limit and the progress line, end to end and as a unit."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.engine.ratelimit import SharedRateLimit
from pytest_llmeval.engine.shared_state import FileState
from tests.e2e import XDIST_MODES, write_jsonl
from tests.servers.fault_server import FaultServer


def _suite(pytester: pytest.Pytester, n: int, subjects: int = 4) -> None:
    rows = [{"id": f"s{i}", "topic": f"t{i % subjects}", "question": f"q{i}", "answer": "ok"} for i in range(n)]
    write_jsonl(pytester.path / "data" / "qa.jsonl", rows)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n"))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_the_rate_is_shared_by_every_process_and_fully_used(pytester, xdist):
    _suite(pytester, 40)
    with FaultServer() as server:
        result = pytester.runpytest_subprocess(
            "--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off", "--llm-rate=10",
            "-p", "no:cacheprovider", *xdist)
        arrivals = sorted(e.arrived for e in server.log)
    result.assert_outcomes(passed=40)
    achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert 9.0 <= achieved <= 10.5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert sorted(gaps)[len(gaps) // 2] >= 0.07  # evenly spaced, not bursts


def test_reservations_are_spaced_one_interval_apart_across_limiters(tmp_path):
    a = SharedRateLimit(FileState(tmp_path), "r", rate=50, tokens_per_minute=None)
    b = SharedRateLimit(FileState(tmp_path), "r", rate=50, tokens_per_minute=None)  # another process, in effect
    slots = sorted(limiter.reserve() for _ in range(10) for limiter in (a, b))
    gaps = [round(y - x, 6) for x, y in zip(slots, slots[1:])]
    assert all(abs(g - 0.02) < 1e-6 for g in gaps)


@settings(max_examples=30, deadline=None)
@given(tokens=st.lists(st.integers(1, 400), min_size=1, max_size=30))
def test_tokens_per_minute_allow_one_minute_of_burst_then_pace(tmp_path_factory, tokens):
    limiter = SharedRateLimit(FileState(tmp_path_factory.mktemp("t")), "t", rate=None, tokens_per_minute=600)
    starts = [limiter.reserve(n) for n in tokens]
    first = starts[0]
    spent = 0
    for n, start in zip(tokens, starts):
        spent += n
        # never more than the budget of the minute before, plus what the minute's burst allows
        assert start - first >= (spent - 600) / 10 - 1e-3
    limiter.state.close()


def test_waiting_stops_when_the_run_stops(tmp_path):
    limiter = SharedRateLimit(FileState(tmp_path), "s", rate=0.1, tokens_per_minute=None)
    stop = threading.Event()
    assert limiter.wait(0, stop)  # the first slot is now
    stop.set()
    assert not limiter.wait(0, stop)  # the next is 10 s away: give up at once


def test_a_live_progress_line_per_model_and_none_under_q(pytester):
    _suite(pytester, 24)
    with FaultServer(delay_s=0.2) as server:
        args = ("--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off", "--llm-concurrency=2",
                "--llm-progress=0.3", "-p", "no:cacheprovider")
        loud = pytester.runpytest_subprocess(*args)
        quiet = pytester.runpytest_subprocess(*args, "-q")
        spread = pytester.runpytest_subprocess(*args, "-n", "2")
    loud.stdout.fnmatch_lines(["llmeval m: */24 samples, *.*/s, * in flight, 0 retries, ETA *"])
    spread.stdout.fnmatch_lines(["llmeval m: */24 samples, *.*/s, * in flight, 0 retries, ETA *"])
    assert "llmeval m:" not in quiet.stdout.str()
