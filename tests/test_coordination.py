"""``--llm-coordination``: the run's shared records on a real ``redis-server``, across "hosts".

Two pytest runs in different folders stand for two machines (or CI jobs): they share nothing but
the coordination server, so whatever they share went through it. The store's atomicity is tested
with the file store's tests (``test_shared_state``, parametrised over both stores)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from pytest_llmeval.engine.redis_state import (
    RECORD_TTL_S,
    RedisState,
    default_run_key,
    shown_url,
    url_secrets,
)
from pytest_llmeval.errors import ConfigError, FatalBackendError
from tests.e2e import write_jsonl
from tests.servers.fault_server import FaultServer
from tests.servers.redis_server import free_port, running_redis


def _suite(folder: Path, host: str, n: int) -> None:
    rows = [{"id": f"s{i}", "topic": f"t{i % 4}", "question": f"{host}-q{i}", "answer": "ok"} for i in range(n)]
    write_jsonl(folder / "data" / "qa.jsonl", rows)
    (folder / "qa.llmeval.yaml").write_text(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n")


def _shards(folder: Path, server: FaultServer, redis_url: str, n: int, *args: str) -> list[tuple[int, str]]:
    """The run's ``n`` shards, each its own pytest process (a CI job, in effect) with its own report
    folder, started together against one loopback server and one coordination server."""
    common = ["--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off", f"--llm-coordination={redis_url}",
              "--llm-coordination-key=one-run", "-p", "no:cacheprovider", *args]
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", *common, f"--llm-shard={i}/{n}", f"--llm-report-dir=out-{i}"],
                             cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(1, n + 1)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    return [(run.returncode, output) for run, output in zip(runs, outputs)]


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_three_shards_with_one_server_share_one_rate(pytester, redis_server, xdist):
    _suite(pytester.path, "a", 240)  # 80 a shard, 12 s at the shared rate: long enough that the shards overlap
    with FaultServer() as server:
        results = _shards(pytester.path, server, redis_server.url, 3, "--llm-rate=20", *xdist)
        log = server.log
    for code, output in results:
        assert code == 0, output
        assert "80 passed" in output
        assert redis_server.password not in output
    arrivals = sorted(e.arrived for e in log)
    assert len(arrivals) == 240
    achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert 19.0 <= achieved <= 21.0, [round(g, 3) for g in gaps]  # unshared: up to 60/s from three shards
    assert sorted(gaps)[len(gaps) // 2] >= 0.035  # evenly spaced, not bursts
    # each shard alone would send its 80 in 4 s: taking 3 times that, it shared the rate with the others
    walls = [float(re.search(r" in ([0-9.]+)s", output).group(1)) for _, output in results]  # type: ignore[union-attr]
    assert min(walls) >= 9.0, walls


def test_three_shards_share_one_budget_never_passing_it(pytester, redis_server):
    _suite(pytester.path, "a", 90)
    budget = 200  # each request reserves about 2 + 5 (max_tokens) and uses 3 + 1 (the server's usage)
    with FaultServer(usage=(3, 1), delay_s=0.05) as server:
        results = _shards(pytester.path, server, redis_server.url, 3, f"--llm-budget-tokens={budget}",
                          "--llm-max-tokens=5", "--llm-concurrency=4")
        used = [e.usage for e in server.log if e.usage is not None]
    spent = sum(p + c for p, c in used)
    assert budget - 8 <= spent <= budget  # all of it used, none of it passed, by the three shards together
    # a shard that asked all its samples before the budget closed is green; one that did not is not
    stopped = [output for code, output in results if f"the run's budget of {budget} tokens was reached" in output]
    assert stopped and all(code == (1 if output in stopped else 0) for code, output in results)


@pytest.mark.parametrize("url, expected", [
    ("redis://:{password}@127.0.0.1:{port}/0", "wrong or missing password"),
    ("redis://127.0.0.1:{port}/0", "wrong or missing password"),
    ("redis://:{password}@127.0.0.1:{closed}/0", "Connection refused"),
    ("http://:{password}@127.0.0.1:{port}/0", "expected redis://[:password@]host:port/db"),
])
def test_a_server_that_cannot_be_used_stops_the_run_before_any_item_with_one_line(
        pytester, redis_server, url, expected):
    _suite(pytester.path, "a", 4)
    wrong = f"wrong-{redis_server.password}"  # a wrong password is a secret all the same
    given = url.format(password=wrong, port=redis_server.port, closed=free_port())
    with FaultServer() as server:
        result = pytester.runpytest_subprocess("--llm-model=m", f"--llm-base-url={server.base_url}",
                                               "--llm-cache=off", "--llm-rate=10", f"--llm-coordination={given}",
                                               "-p", "no:cacheprovider")
        asked = len(server.log)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert asked == 0
    lines = [line for line in output.splitlines() if "--llm-coordination" in line]
    assert len(lines) == 1 and expected in lines[0], output
    assert shown_url(given) in lines[0]
    assert wrong not in output and "Traceback" not in output


def test_a_password_from_a_variable_is_read_and_never_shown_or_written(pytester, redis_server, monkeypatch):
    _suite(pytester.path, "a", 4)
    monkeypatch.setenv("LLMEVAL_TEST_REDIS_PASSWORD", redis_server.password)
    url = f"redis://:${{LLMEVAL_TEST_REDIS_PASSWORD}}@127.0.0.1:{redis_server.port}/0"
    echoed = {"a-q0": f"ok {redis_server.password}"}  # a server that echoes it: the run's scrubber masks it
    with FaultServer(replies=echoed) as server:
        result = pytester.runpytest_subprocess("--llm-model=m", f"--llm-base-url={server.base_url}",
                                               f"--llm-cache={pytester.path / 'journal.sqlite3'}", "--llm-rate=50",
                                               f"--llm-coordination={url}", "--llm-report-dir=out",
                                               "-p", "no:cacheprovider", "-n", "2")
    result.stdout.fnmatch_lines(["*3 passed, 1 missed*"])  # "ok <password>" is not "ok"
    assert redis_server.password not in result.stdout.str() + result.stderr.str()
    written = [p for p in pytester.path.rglob("*") if p.is_file() and p.parent.name != "data"]
    assert (pytester.path / "journal.sqlite3") in written and len(written) > 5
    assert not [p for p in written if redis_server.password.encode() in p.read_bytes()]
    assert "ok ***" in (pytester.path / "out" / "samples.jsonl").read_text()


def test_the_clock_is_the_servers_and_records_expire(redis_server):
    import redis

    state = RedisState(redis_server.url, uuid.uuid4().hex)
    seconds, micros = redis.Redis.from_url(redis_server.url).time()
    now = state.update("budget:x", lambda raw, now: (b"1", now))
    assert abs(now - (seconds + micros / 1e6)) < 5
    client = redis.Redis.from_url(redis_server.url)
    assert 0 < client.ttl(state.key("budget:x")) <= RECORD_TTL_S
    state.close()


def test_quota_records_are_per_endpoint_and_the_rest_per_run_key(redis_server):
    one, other = RedisState(redis_server.url, uuid.uuid4().hex), RedisState(redis_server.url, uuid.uuid4().hex)
    endpoint = f"rate:openai|http://127.0.0.1:{uuid.uuid4().hex}/v1"
    one.update(endpoint, lambda raw, now: (b"slot", None))
    one.update("budget:m", lambda raw, now: (b"spent", None))
    assert other.read(endpoint) == b"slot"  # every run against one API quota shares its rate
    assert other.read("budget:m") is None  # another run's budget is its own
    assert RedisState(redis_server.url, one.run_key).read("budget:m") == b"spent"  # a shard of the same run
    one.close()
    other.close()


def test_the_ci_run_id_is_the_default_run_key(monkeypatch):
    for name in ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "CI_PIPELINE_ID", "BUILDKITE_BUILD_ID"):
        monkeypatch.delenv(name, raising=False)
    alone = default_run_key()
    assert alone.startswith("local-") and alone != default_run_key()
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    assert default_run_key() == "github_run_id-42-2"


def test_losing_the_server_is_a_fatal_error_naming_it_without_the_password():
    with running_redis() as server:
        state = RedisState(server.url, "k")
        state.check()
        state.update("budget:x", lambda raw, now: (b"1", None))
    with pytest.raises(FatalBackendError) as caught:  # the model's requests stop at once
        state.update("budget:x", lambda raw, now: (b"2", None))
    assert shown_url(server.url) in str(caught.value)
    assert server.password not in str(caught.value)
    state.close()


def test_a_variable_that_is_not_set_is_one_line(monkeypatch):
    monkeypatch.delenv("LLMEVAL_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="LLMEVAL_NOT_SET is not set"):
        RedisState("redis://:${LLMEVAL_NOT_SET}@127.0.0.1:1/0", "k")


def test_shown_urls_hide_the_password_and_query():
    assert shown_url("redis://:s3cret-pass@h:6379/2") == "redis://:***@h:6379/2"
    assert shown_url("redis://user:s3cret-pass@h:6379/0?password=x") == "redis://user:***@h:6379/0"
    assert shown_url("redis://h:6379/0") == "redis://h:6379/0"
    assert shown_url("unix:///run/redis.sock?db=1") == "unix:///run/redis.sock"
    assert url_secrets("rediss://u:p%40ss-word@h:6380/1") == ["p@ss-word", "p%40ss-word"]



def test_a_shard_without_a_server_keeps_its_share_of_the_rate_and_says_so(pytester, redis_server):
    _suite(pytester.path, "a", 40)  # shard 1/2: 20 samples
    rates, outputs = [], []
    for coordination in ([], [f"--llm-coordination={redis_server.url}"]):
        with FaultServer() as server:
            result = pytester.runpytest_subprocess(
                "--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off", "--llm-rate=10",
                "--llm-shard=1/2", "-p", "no:cacheprovider", *coordination)
            arrivals = sorted(e.arrived for e in server.log)
        result.assert_outcomes(passed=20)
        rates.append((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]))
        outputs.append(result.stdout.str())
    alone, shared = rates
    assert 4.5 <= alone <= 5.25  # half of 10/s: the other shard may be sending its half
    assert 9.0 <= shared <= 10.5  # the server's schedule counts every shard: the whole rate
    assert "--llm-shard 1/2 without --llm-coordination: this shard kept 1/2 of each rate limit and budget " \
           "(m: 5 of 10 requests/s)" in outputs[0]
    assert "without --llm-coordination" not in outputs[1]


def test_a_server_lost_mid_run_stops_the_run_with_one_line_and_the_rerun_asks_only_the_rest(pytester):
    _suite(pytester.path, "a", 20)
    journal = pytester.path / "journal.sqlite3"
    args = ["--llm-model=m", "--llm-rate=5", f"--llm-cache={journal}", "-p", "no:cacheprovider"]
    port = free_port()  # the same endpoint for the rerun: the journal's replies are that endpoint's
    with FaultServer(port=port) as server:
        with running_redis() as redis_server:
            run = subprocess.Popen([sys.executable, "-m", "pytest", *args, f"--llm-base-url={server.base_url}",
                                    f"--llm-coordination={redis_server.url}"], cwd=pytester.path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 120
            while len(server.log) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
        output = run.communicate(timeout=300)[0]  # the server stopped with the block above
        answered = len(server.log)
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output  # as a refused key stops a run
    assert f"the coordination server {shown_url(redis_server.url)} was lost mid-run" in output
    assert redis_server.password not in output and "Traceback" not in output
    assert 4 <= answered < 20
    with FaultServer(port=port) as server, running_redis() as redis_server:
        rerun = pytester.runpytest_subprocess(*args, f"--llm-base-url={server.base_url}",
                                              f"--llm-coordination={redis_server.url}")
        asked = len(server.log)
    rerun.assert_outcomes(passed=20)
    assert asked == 20 - answered  # what the first run received was journaled, never asked again
