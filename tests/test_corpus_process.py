"""Bad-input corpus, process faults: a run stopped by SIGTERM or Ctrl-C, two runs writing one
report folder, a journal that stops recording half way. Each keeps every finished sample, says
in one line what happened, and is never green; a rerun resumes. These run pytest as its own
process (signals and file-size limits need one)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.corpus import journal_rows, qa_files, samples_in, write_files
from tests.servers.fault_server import FaultServer

N = 8
SIGNALS = [pytest.param(signal.SIGTERM, [], id="sigterm"), pytest.param(signal.SIGTERM, ["-n", "2"], id="sigterm-n2"),
           pytest.param(signal.SIGINT, [], id="sigint")]


@pytest.fixture
def port() -> int:
    """One port for both runs of a test: the endpoint is part of the journal's key."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project(root: Path, case: str) -> dict[str, str]:
    write_files(root, qa_files(case, rows=N))
    return {f"{case} question {i}": "ok" for i in range(N)}


def _command(server: FaultServer, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "--llm-model=m", f"--llm-base-url={server.base_url}",
            "--llm-report-dir=out", "--llm-cache=journal.sqlite3", "--llm-concurrency=1", "-p", "no:cacheprovider",
            *extra]


def _wait_for(condition: object, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    assert condition(), "timed out"  # type: ignore[operator]


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@pytest.mark.parametrize(("sig", "xdist"), SIGNALS)
def test_a_signal_mid_run_keeps_every_sample_fails_and_resumes(pytester, port, sig, xdist):
    case = f"signal-{sig.name.lower()}-{len(xdist)}"
    replies = _project(pytester.path, case)
    out = pytester.path / "out"
    with FaultServer(replies=replies, delay_s=0.3, port=port) as server:
        process = subprocess.Popen(_command(server, *xdist), cwd=pytester.path, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        _wait_for(lambda: _lines(out / "samples.jsonl") >= 2)
        process.send_signal(sig)  # the controller only, as `kill <pid>` or a CI runner's cancel sends it
        output, _ = process.communicate(timeout=120)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    reported = len(samples_in(out))
    assert 2 <= reported < N
    assert f"the run stopped before all its samples ran ({reported} reported): these results are partial" in output
    verdict = json.loads((out / "results.json").read_text())["verdict"]
    assert verdict["passed"] is False and any("partial" in line for line in verdict["failures"])
    journaled = journal_rows(pytester.path / "journal.sqlite3")
    assert journaled >= reported  # every reported sample's answer is in the journal
    with FaultServer(replies=replies, port=port) as server:  # the rerun asks only for the rest
        rerun = subprocess.run(_command(server, *xdist), cwd=pytester.path, capture_output=True, text=True, timeout=300)
        asked = [e.prompt for e in server.log]
    assert rerun.returncode == 0, rerun.stdout
    assert len(asked) == N - journaled and len(set(asked)) == len(asked)
    assert len(samples_in(out)) == N


def test_two_runs_writing_one_report_folder(pytester, port):
    replies = _project(pytester.path, "two-runs")
    out = pytester.path / "out"
    with FaultServer(replies=replies, delay_s=0.2, port=port) as server:
        first = subprocess.Popen(_command(server), cwd=pytester.path, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        _wait_for(lambda: _lines(out / "samples.jsonl") >= 1)
        second = subprocess.run(_command(server, "--llm-cache=off"), cwd=pytester.path, capture_output=True,
                                text=True, timeout=300)
        output, _ = first.communicate(timeout=300)
    assert second.returncode == pytest.ExitCode.USAGE_ERROR, second.stdout + second.stderr
    assert "ERROR: --llm-report-dir out: another pytest run is writing this folder; give each run its own" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    assert first.returncode == 0, output
    samples = samples_in(out)  # the first run's, whole: the second wrote nothing into them
    assert len(samples) == N and {s["id"] for s in samples} == {f"s{i}" for i in range(N)}


def _small_files(limit: int) -> object:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: writes get EFBIG
    return apply


def test_a_journal_that_stops_recording_fails_the_run(pytester):
    """No file may grow past 96 KiB: the journal's WAL (a 4 KiB page and more per reply) reaches
    it a third of the way through the run, while samples.jsonl (under 1 KiB a sample) never does.
    The run goes on, every sample is kept, and the run fails saying the journal stopped, since a
    resume would have to ask again."""
    rows = 60
    write_files(pytester.path, qa_files("journal-full", rows=rows))
    replies = {f"journal-full question {i}": "ok" for i in range(rows)}
    with FaultServer(replies=replies) as server:
        result = subprocess.run(_command(server, "--llm-concurrency=8"), cwd=pytester.path, capture_output=True,
                                text=True, timeout=600, preexec_fn=_small_files(96 * 1024))
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    failure = [line for line in output.splitlines() if line.startswith("the journal stopped recording (")]
    assert failure and failure[0].endswith("replies after that were not journaled, so an interrupted run cannot "
                                           "resume them (a rerun asks for them again)"), output
    assert len(samples_in(pytester.path / "out")) == rows
    assert 0 < journal_rows(pytester.path / "journal.sqlite3") < rows
    assert os.path.getsize(pytester.path / "out" / "samples.jsonl") < 96 * 1024
