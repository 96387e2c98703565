"""The response journal end to end: a rerun asks only for what is missing (also after kill -9),
the cache can be bypassed, refreshed and cleared, and it never holds the API key."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import XDIST_MODES, read_results, write_jsonl
from tests.servers.fault_server import FaultServer

ROWS = [{"id": f"s{i:02d}", "topic": ("a", "b", "c")[i % 3], "question": f"question {i}", "answer": f"a{i}"}
        for i in range(30)]
REPLIES = {row["question"]: row["answer"] if i % 4 else "wrong" for i, row in enumerate(ROWS)}


@pytest.fixture
def port() -> int:
    """One port for every server of a test: the endpoint is part of the cache key."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _suite(folder: Path) -> None:
    write_jsonl(folder / "data" / "qa.jsonl", ROWS)
    (folder / "qa.llmeval.yaml").write_text(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\n"
        "prompt: '{question}'\n", encoding="utf-8")


def _args(server: FaultServer, *extra: str) -> list[str]:
    return ["--llm-model=m", f"--llm-base-url={server.base_url}", "-p", "no:cacheprovider", *extra]


def _rows(folder: Path) -> list[tuple[str, int, int, float]]:
    return [(r["subject"], r["n"], r["correct"], r["score"]) for r in read_results(folder)["subjects"]]


def _stored(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_run_killed_half_way_resumes_with_only_the_missing_samples(pytester, xdist, port):
    _suite(pytester.path)
    cache = pytester.path / "journal.sqlite3"
    with FaultServer(replies=REPLIES) as clean:
        pytester.runpytest_subprocess(*_args(clean, "--llm-cache=off", "--llm-report-dir=clean"))
    with FaultServer(replies=REPLIES, delay_s=0.15, port=port) as server:
        command = [sys.executable, "-m", "pytest", *_args(server, f"--llm-cache={cache}", "--llm-concurrency=2"), *xdist]
        process = subprocess.Popen(command, cwd=pytester.path, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sum(e.outcome == "ok" and e.ended > 0 for e in server.log) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        first = len(server.log)
    journaled = _stored(cache)
    assert 5 <= journaled < len(ROWS)  # half way: answers are journaled as they arrive, not all yet
    with FaultServer(replies=REPLIES, port=port) as server:
        result = pytester.runpytest_subprocess(*_args(server, f"--llm-cache={cache}", "--llm-report-dir=resumed"), *xdist)
        asked = sorted(e.prompt for e in server.log)
    assert len(asked) == len(ROWS) - journaled and len(set(asked)) == len(asked)  # only what was missing, once
    assert first >= journaled
    result.stdout.fnmatch_lines([f"*m: 30 samples, {len(asked)} requests, 0 retries, {journaled} from cache*"])
    assert _rows(pytester.path / "resumed") == _rows(pytester.path / "clean")


def test_the_cache_can_be_reused_bypassed_refreshed_and_cleared(pytester, monkeypatch, port):
    _suite(pytester.path)
    secret = "sk-journal-secret-123"
    monkeypatch.setenv("JOURNAL_TEST_KEY", secret)
    cache = pytester.path / "c.sqlite3"

    def run(mode: str) -> int:
        with FaultServer(replies=REPLIES, port=port) as server:
            result = pytester.runpytest_subprocess(*_args(server, "--llm-api-key-env=JOURNAL_TEST_KEY", f"--llm-cache={mode}"))
            assert result.ret == 0 and all(e.authorization == f"Bearer {secret}" for e in server.log)
            return len(server.log)

    pytester.makeini(f"[pytest]\nllm_cache = {cache}\n")  # the path from the ini, the mode from the command line
    assert run("on") == 30
    assert run("on") == 0
    assert run("refresh") == 30
    assert run("off") == 30  # off: neither read nor written
    assert _stored(cache) == 30
    raw = b"".join(p.read_bytes() for p in pytester.path.glob("c.sqlite3*"))
    assert secret.encode() not in raw
    assert run("clear") == 30  # emptied first, then filled again


def test_cache_off_neither_reads_nor_writes(pytester):
    _suite(pytester.path)
    with FaultServer(replies=REPLIES) as server:
        pytester.runpytest_subprocess(*_args(server, "--llm-cache=off"))
        pytester.runpytest_subprocess(*_args(server, "--llm-cache=off"))
        assert len(server.log) == 60
    assert not list(pytester.path.rglob("replies.sqlite3"))


def test_the_default_cache_lives_in_pytests_cache_folder(pytester):
    _suite(pytester.path)
    with FaultServer(replies=REPLIES) as server:
        pytester.runpytest_subprocess("--llm-model=m", f"--llm-base-url={server.base_url}")
        pytester.runpytest_subprocess("--llm-model=m", f"--llm-base-url={server.base_url}")
        assert len(server.log) == 30
    assert (pytester.path / ".pytest_cache" / "d" / "llmeval" / "replies.sqlite3").is_file()
