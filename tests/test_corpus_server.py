"""Bad-input corpus, server behaviour and secrets: what a flaky network or a misconfigured server
does. Every wait is bounded, a reply counts only when the protocol says it is complete, a refusal
is a miss with its reason, and the key never reaches a file or the terminal, even when the server
echoes it. (tests/corpus.py explains the three checks every case makes.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.corpus import Case, answered, asked, qa_files, run_case, samples_in

OK = pytest.ExitCode.OK
FAILED = pytest.ExitCode.TESTS_FAILED
RUN = ("--llm-report-dir=out", "--llm-cache=journal.sqlite3", "--llm-retries=1", "--llm-timeout=2")
SECRET = "sk-corpus-secret-4f1d9a7c2b"


def _case(name: str, faults: list[str], ret: int, line: str, *args: str, errors: int = 1, question: int = 0,
          kept: object = None, journaled: int | None = None) -> Case:
    """The qa suite of ``name``: question ``question`` gets the server's ``faults``, the others
    "ok"; the run ends with ``ret`` and ``errors`` samples as errors."""
    return Case(name, qa_files(name), (*RUN, *args), ret, line,
                kept=kept or answered(3, errors=errors, journaled=journaled),  # type: ignore[arg-type]
                faults={f"{name} question {question}": faults},
                replies={f"{name} question {i}": "ok" for i in range(3)})


SERVER_CASES = [
    _case("retry-after-too-long", ["429:99999"], FAILED,
          "*injected 429; the server asked to wait 99999 s before retrying (Retry-After), longer than the 120 s this "
          "plugin waits*"),
    _case("retry-after-past-deadline", ["429:100"], FAILED,
          "*the server asked to wait 100 s before retrying (Retry-After), past the run's deadline (--llm-deadline) in *",
          "--llm-deadline=40"),
    _case("stream-cut-short", ["cut", "cut"], FAILED,
          "*the stream ended before the reply was complete (no finish_reason and no [[]DONE])*", "--llm-stream"),
    _case("stream-cut-once-is-retried", ["cut"], OK, "m: 3 samples, 4 requests, 1 retries, 0 from cache, 0 errors*",
          "--llm-stream", errors=0),
    _case("stream-error-object", ["stream-error", "stream-error"], FAILED,
          "*error in the stream: injected engine failure*", "--llm-stream"),
    _case("content-filter", ["filtered"], OK, "m: 3 samples, 3 requests, 0 retries, 0 from cache, 0 errors, "
                                              "1 refused by the endpoint*", errors=0, journaled=3),
    _case("content-filter-streamed", ["filtered"], OK, "*1 refused by the endpoint*", "--llm-stream", errors=0,
          journaled=3),
    _case("html-page-with-200", ["html", "html"], FAILED,
          "*malformed reply for model 'm': expected a JSON chat completion, got '<html><body><h1>Sign in*"),
    _case("html-page-to-a-stream", ["html", "html"], FAILED,
          "*expected server-sent events with data chunks, got none (text/html)*", "--llm-stream"),
    _case("empty-choices", ["no-choices", "no-choices"], FAILED, "*malformed reply for model 'm': no choices*"),
    _case("closed-mid-body", ["truncated", "truncated"], FAILED,
          "*connection failed: RemoteProtocolError: peer closed connection without sending complete message body*"),
    _case("chunked-body-never-ends", ["endless", "endless"], FAILED, "*no reply within 1 s for model 'm'*",
          "--llm-timeout=1"),
    _case("huge-reply", ["huge"], FAILED, "*returned a reply of 2,000,000 characters for max_tokens=256; the server "
                                          "ignored max_tokens*"),
    _case("connection-reset", ["reset", "reset"], FAILED, "*connection failed: ReadError: *reset by peer*"),
    _case("bad-request-is-not-retried", ["400", "400"], FAILED, "*HTTP 400 for model 'm': injected 400*"),
    _case("server-error-until-retries-run-out", ["500", "503"], FAILED, "*HTTP 503 for model 'm': injected 503*"),
    _case("server-error-once-is-retried", ["503"], OK, "m: 3 samples, 4 requests, 1 retries*", errors=0),
]


def _deadline_errors(pytester: pytest.Pytester, case: Case, result: pytest.RunResult) -> None:
    """Every sample is kept; the one the server never answers is an error of the deadline, and
    so is any other not answered by then (on a slow machine start-up may take most of it)."""
    samples = {s["id"]: s for s in samples_in(pytester.path / "out")}
    assert sorted(samples) == ["s0", "s1", "s2"]
    assert samples["s2"]["error"].endswith("the run's deadline (--llm-deadline) passed while this request was in flight")
    assert all("(--llm-deadline)" in s["error"] for s in samples.values() if s["error"])
    answered(3, errors=sum(s["error"] is not None for s in samples.values()))(pytester, case, result)


DEADLINE = _case("never-answers-with-a-deadline", ["hang:600"], FAILED,
                 "*the run's deadline (--llm-deadline) passed while this request was in flight*",
                 "--llm-deadline=8", "--llm-timeout=60", question=2, kept=_deadline_errors)
SERVER_CASES.append(DEADLINE)


def _named(name: str) -> Case:
    return next(case for case in SERVER_CASES if case.id == name)


@pytest.mark.parametrize("case", SERVER_CASES, ids=repr)
def test_server_cases(pytester, corpus_server, case):
    """Each ends in well under the time its fault would take unbounded (Retry-After 99999 or 100
    s, a 60 s timeout on a server that never answers, a body that never ends), start-up included."""
    started = time.monotonic()
    run_case(pytester, case, corpus_server)
    assert time.monotonic() - started < 45


def test_a_base_url_without_v1_names_the_url_and_the_fix(pytester, corpus_server):
    root = corpus_server.root_url
    case = Case("base-url-without-v1", qa_files("no-v1"), (*RUN, "--llm-model=m", f"--llm-base-url={root}"),
                pytest.ExitCode.INTERRUPTED,
                f"*{root}: HTTP 404 for POST {root}/chat/completions: no such endpoint; {root}/v1/models answers: "
                f"set base_url to {root}/v1*", server=False, kept=answered(1, errors=1, journaled=0))
    run_case(pytester, case, corpus_server)


def test_a_refused_connection_is_an_error_after_the_retries(pytester, corpus_server):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    case = Case("connection-refused", qa_files("refused"), (*RUN, "--llm-model=m", f"--llm-base-url=http://127.0.0.1:{port}/v1"),
                FAILED, "*3 samples had backend errors (first: m qa/qa id=s0: *connection failed: *", server=False,
                kept=answered(3, errors=3, journaled=0))
    run_case(pytester, case, corpus_server)


def _nowhere(secret: str) -> object:
    """The key is in no file the run wrote (reports, journal, baseline, junit, step summary) and
    not in its output; the echoed reply reads ``***`` instead."""
    def check(pytester: pytest.Pytester, case: Case, result: pytest.RunResult) -> None:
        answered(3, errors=0)(pytester, case, result)
        written = [p for p in pytester.path.rglob("*") if p.is_file() and p.stat().st_mtime >= pytester._started]  # type: ignore[attr-defined]
        leaks = [str(p) for p in written if secret.encode() in p.read_bytes()]
        assert not leaks, leaks
        assert secret not in result.stdout.str() + result.stderr.str()
        assert any(s["reply"] == "you sent Bearer ***" for s in samples_in(pytester.path / "out"))
        names = {p.name for p in written}
        assert {"samples.jsonl", "results.json", "report.html", "junit.xml", "journal.sqlite3", "junit-pytest.xml",
                "step-summary.md", "baseline.json"} <= names, names
    return check


@pytest.mark.parametrize("stream", [pytest.param([], id="plain"), pytest.param(["--llm-stream"], id="streamed")])
def test_an_echoed_key_is_written_nowhere(pytester, corpus_server, monkeypatch, stream):
    name = f"echo-{'streamed' if stream else 'plain'}"
    monkeypatch.setenv("CORPUS_KEY", SECRET)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step-summary.md"))
    pytester._started = time.time() - 1  # type: ignore[attr-defined]
    case = Case(name, qa_files(name), (*RUN, "--llm-api-key-env=CORPUS_KEY", "--junitxml=junit-pytest.xml",
                                       "--llm-update-baseline", "--llm-baseline=baseline.json", "-rA", *stream),
                OK, "qa/qa *PASS", kept=_nowhere(SECRET),  # type: ignore[arg-type]
                faults={f"{name} question 0": ["echo"]}, replies={f"{name} question {i}": "ok" for i in range(3)})
    run_case(pytester, case, corpus_server)
    assert all(e.authorization == f"Bearer {SECRET}" for e in corpus_server.log if e.prompt.startswith(name))


def test_an_echoed_key_in_an_error_is_written_nowhere(pytester, corpus_server, monkeypatch):
    monkeypatch.setenv("CORPUS_KEY", SECRET)
    case = _case("echo-in-error", ["500-echo", "500-echo"], FAILED, "*HTTP 500 for model 'm': injected 500-echo for Bearer ***",
                 "--llm-api-key-env=CORPUS_KEY")
    result = run_case(pytester, case, corpus_server)
    assert SECRET not in result.stdout.str()
    assert not [p for p in pytester.path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert "for Bearer ***" in result.stdout.str()


def test_a_refusal_is_a_miss_with_its_reason_in_the_samples(pytester, corpus_server):
    run_case(pytester, _named("content-filter"), corpus_server)
    refused = [s for s in samples_in(pytester.path / "out") if s["rejected"]]
    assert [(s["id"], s["correct"], s["error"], s["rejected"]) for s in refused] == [
        ("s0", False, None, "refused by the endpoint (finish_reason: content_filter)")]
    assert json.loads((pytester.path / "out" / "results.json").read_text())["subjects"][0]["n"] == 3


def test_a_cut_stream_is_never_scored_nor_timed(pytester, corpus_server):
    since = time.time()
    run_case(pytester, _named("stream-cut-short"), corpus_server)
    cut = next(s for s in samples_in(pytester.path / "out") if s["id"] == "s0")
    assert cut["correct"] is None and cut["e2e_s"] is None and cut["reply"] is None
    assert asked(corpus_server, "stream-cut-short question 0", since) == 2  # retried as transient, then an error


def test_a_huge_reply_is_not_journaled_and_not_retried(pytester, corpus_server):
    since = time.time()
    run_case(pytester, _named("huge-reply"), corpus_server)
    assert asked(corpus_server, "huge-reply question 0", since) == 1
    assert Path(pytester.path / "out" / "samples.jsonl").stat().st_size < 100_000
