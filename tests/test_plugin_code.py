"""Code-generation suites end to end: task code over the humaneval format, the sandbox policy of a
run, hostile replies through the whole plugin, and repeated attempts with pass@k and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests._sandbox import processes_named, requires_sandbox
from tests._shared_data import SHARED_DATA, requires_shared_data
from tests.e2e import read_results, read_samples, sample_outcomes, scripted_args

PROBLEMS = Path(__file__).resolve().parents[1] / "example_suites" / "data" / "code_problems.jsonl"


def _problems() -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in PROBLEMS.read_text(encoding="utf-8").splitlines()]
    return {row["entry_point"]: row for row in rows}


def _code_suite(pytester: pytest.Pytester, *, extra: str = "", name: str = "code", timeout_s: int = 3) -> None:
    shutil.copy(PROBLEMS, pytester.path / "problems.jsonl")
    pytester.makefile(".llmeval.yaml", **{name: (
        f"name: {name}\ntask: code\ndata: {{format: humaneval, path: problems.jsonl, subject: python}}\n"
        f"prompt: '{{prompt}}'\nscoring: {{timeout_s: {timeout_s}}}\n" + extra)})


def _by_id(folder: Path) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in read_samples(folder)}


# --- hostile replies through the plugin ---------------------------------------------------------


@pytest.fixture
def listener() -> Any:
    """A real listener on 127.0.0.1: a sandboxed program must not reach it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def _hostile_replies(scratch: Path, port: int) -> dict[str, str]:
    p = _problems()
    fenced = "```python\n{}\n```\nThis solves it."
    return {
        p["add"]["prompt"]: fenced.format("def add(a, b):\n    return a + b"),
        p["is_even"]["prompt"]: fenced.format("import os\ndef is_even(n):\n    while True:\n        os.fork()"),
        p["reverse_string"]["prompt"]: fenced.format(
            f"import os\ndef reverse_string(s):\n    os.system('rm -rf {scratch}')\n"
            f"    assert os.path.exists('{scratch}'), 'scratch folder not visible'\n    return s[::-1]"),
        p["largest"]["prompt"]: fenced.format(
            f"import socket\ndef largest(numbers):\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    return max(numbers)"),
        p["count_vowels"]["prompt"]: fenced.format(
            "import os\ndef count_vowels(text):\n    return len(os.environ['LLMEVAL_CANARY'])"),
    }


@requires_sandbox
@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_hostile_replies_end_as_failed_samples_with_reasons_and_the_run_goes_on(
        pytester: pytest.Pytester, tmp_path: Path, listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
        xdist: list[str]) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "keep.txt").write_text("still here", encoding="utf-8")
    monkeypatch.setenv("LLMEVAL_CANARY", "canary-secret-value")
    _code_suite(pytester)
    args = scripted_args(pytester, _hostile_replies(scratch, listener.getsockname()[1]))
    result = pytester.runpytest(*args, "--llm-report-dir=out", "-p", "no:cacheprovider", *xdist)
    assert sample_outcomes(result) == {"passed": 1, "missed": 4}, result.stdout.str()
    samples = _by_id(pytester.path / "out")
    assert samples["Example/0"]["correct"] is True and samples["Example/0"]["rule"] == "tests passed"
    rules = {id_: samples[id_]["rule"] for id_ in ("Example/1", "Example/2", "Example/3", "Example/4")}
    assert all(s["correct"] is False and s["error"] is None for id_, s in samples.items() if id_ != "Example/0")
    assert rules["Example/1"].startswith(("failed: BlockingIOError", "timeout:", "killed:")), rules
    assert rules["Example/2"].startswith("failed: AssertionError: scratch folder not visible (line "), rules
    assert rules["Example/3"].startswith(("failed: ConnectionRefusedError", "failed: OSError")), rules  # own netns
    assert rules["Example/4"].startswith("failed: KeyError: 'LLMEVAL_CANARY'"), rules
    assert (scratch / "keep.txt").read_text(encoding="utf-8") == "still here"
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert read_results(pytester.path / "out")["run"]["code_execution"] == "sandbox"


@requires_sandbox
def test_a_generic_format_maps_prompt_test_entry_point_and_setup_with_fields(pytester: pytest.Pytester) -> None:
    rows = [{"qid": "twice", "ask": "def twice(x):\n", "tests": "def check(f):\n    assert f(HALF) == 1\n",
             "fn": "twice", "pre": "HALF = 0.5"},
            {"qid": "bad", "ask": "def bad(x):\n", "tests": "def check(f):\n    assert f(1) == 2\n", "fn": "bad", "pre": ""}]
    (pytester.path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pytester.makefile(".llmeval.yaml", generic=(
        "task: code\ndata:\n  format: jsonl\n  path: rows.jsonl\n  subject: py\n"
        "  fields: {id: qid, prompt: ask, test: tests, entry_point: fn, setup: pre}\nprompt: '{prompt}'\n"))
    args = scripted_args(pytester, {"def twice(x):\n": "    return 2 * x\n", "def bad(x):\n": "    return x\n"})
    result = pytester.runpytest(*args, "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"passed": 1, "missed": 1}, result.stdout.str()
    samples = _by_id(pytester.path / "out")
    assert samples["twice"]["extracted"] == "def twice(x):\n    return 2 * x\n"
    assert samples["bad"]["rule"].startswith("failed: AssertionError (line ")


def test_a_row_without_its_test_fails_collection_naming_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "rows.jsonl").write_text(json.dumps({"prompt": "def f():\n", "entry_point": "f"}) + "\n",
                                              encoding="utf-8")
    pytester.makefile(".llmeval.yaml", generic="task: code\ndata: {format: jsonl, path: rows.jsonl}\nprompt: '{prompt}'\n")
    result = pytester.runpytest(*scripted_args(pytester, {}), "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*rows.jsonl:1: sample '0': field 'test' has no text (task code needs prompt, test "
                                 "and entry_point; map them with fields.test)*"])


@requires_sandbox
def test_ctrl_c_kills_the_running_executions(pytester: pytest.Pytester) -> None:
    """Programs that would run for a minute: Ctrl-C ends the run at once, and no process of theirs
    (seen from outside by a marker in its command line) outlives it."""
    marker = f"llmeval-ctrl-c-{os.getpid()}-{time.monotonic_ns()}"
    sleeper = ("```python\nimport os\ndef {}(*args):\n    pid = os.fork()\n    if pid == 0:\n"
               f"        os.execv('/bin/sleep', ['{marker}', '600'])\n    os.waitpid(pid, 0)\n```")
    _code_suite(pytester, timeout_s=60)
    p = _problems()
    args = scripted_args(pytester, {p[name]["prompt"]: sleeper.format(name) for name in p})
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "--llm-report-dir=out"],
                            cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not processes_named(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_named(marker), "no execution started"
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
        assert time.monotonic() - interrupted < 20, output.decode()
    finally:
        proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output.decode()
    assert processes_named(marker) == []
    assert b"KeyboardInterrupt" in output


# --- the sandbox policy -------------------------------------------------------------------------


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_without_a_sandbox_the_run_refuses_in_one_line_unless_unsafe_exec(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdist: list[str]) -> None:
    """No bwrap on PATH (a machine without bubblewrap): refused before any code runs; with
    --llm-unsafe-exec the code runs in a plain subprocess and the summary and results.json say so."""
    _code_suite(pytester)
    p = _problems()
    args = scripted_args(pytester, {p[name]["prompt"]: p[name]["canonical_solution"] for name in p})
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    refused = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", *xdist)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR, refused.stdout.str()
    output = refused.stdout.str() + refused.stderr.str()
    assert "refusing to run model-written code without a sandbox: bubblewrap is not installed" in output
    assert "--llm-unsafe-exec" in output and "Traceback" not in output and "missed" not in output

    unsafe = pytester.runpytest_subprocess(*args, "--llm-unsafe-exec", "--llm-report-dir=out", "-p", "no:cacheprovider",
                                           *xdist)
    assert unsafe.ret == 0, unsafe.stdout.str()
    unsafe.stdout.fnmatch_lines(["*UNSAFE: model-written code ran without a sandbox (--llm-unsafe-exec*",
                                 "*5 passed*"])
    document = read_results(pytester.path / "out")
    assert document["run"]["code_execution"] == "unsafe" and document["run"]["options"]["unsafe_exec"] is True
    assert any(note.startswith("UNSAFE") for note in document["verdict"]["notes"])


@requires_sandbox
def test_a_sandbox_that_cannot_start_is_an_error_never_a_miss(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's check passed (this process found the sandbox working), then bwrap went away: no
    program could run, so each sample is an error, and the run is not green."""
    _code_suite(pytester)
    p = _problems()
    args = scripted_args(pytester, {p[name]["prompt"]: p[name]["canonical_solution"] for name in p})
    monkeypatch.setenv("PATH", str(tmp_path))
    result = pytester.runpytest(*args, "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"errors": 5}, result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    errors = {s["error"] for s in read_samples(pytester.path / "out")}
    assert errors == {"the sandbox could not run this sample's code: bubblewrap is not installed (no bwrap on PATH): "
                      "apt-get install bubblewrap, or dnf install bubblewrap"}


# --- the bundled model on HumanEval -------------------------------------------------------------


@requires_sandbox
@requires_shared_data
def test_bundled_model_on_20_humaneval_problems_gives_the_same_pass_at_1_with_and_without_xdist(
        pytester: pytest.Pytester, smollm2_backend: Any) -> None:
    assert SHARED_DATA is not None
    pytester.makefile(".llmeval.yaml", humaneval=(
        f"name: humaneval\ntask: code\ndata: {{format: humaneval, path: {SHARED_DATA / 'humaneval'}}}\n"
        "prompt: \"Complete this Python function.\\n\\n{prompt}\"\nlimit: 20\n"
        "generation: {max_tokens: 96}\nscoring: {timeout_s: 5}\n"))
    model = ["--llm-backend=llamacpp", "--llm-model=SmolLM2-135M-Instruct", "-p", "no:cacheprovider"]
    one = pytester.runpytest(*model, "--llm-report-dir=one", "--llm-cache=off")
    two = pytester.runpytest(*model, "--llm-report-dir=two", "--llm-cache=off", "-n", "2")
    for result in (one, two):
        assert result.ret in (0, 1) and "error" not in sample_outcomes(result), result.stdout.str()
        result.stdout.fnmatch_lines(["*humaneval/humaneval*pass@1*20*"])
    first, second = read_results(pytester.path / "one"), read_results(pytester.path / "two")
    assert [(r["n"], r["correct"], r["score"]) for r in first["subjects"]] == \
        [(r["n"], r["correct"], r["score"]) for r in second["subjects"]]
    assert first["subjects"][0]["n"] == 20
    verdicts = {s["id"]: (s["reply"], s["correct"], s["rule"]) for s in read_samples(pytester.path / "one")}
    assert verdicts == {s["id"]: (s["reply"], s["correct"], s["rule"]) for s in read_samples(pytester.path / "two")}


# --- repeats -------------------------------------------------------------------------------------

_SEEDED = '''
from pathlib import Path

from pytest_llmeval.testing import Failed

SOLVED = "```python\\ndef add(a, b):\\n    return a + b\\n```"
WRONG = "```python\\ndef add(a, b):\\n    return a - b\\n```"


def reply(request):
    """Attempt i (seed i) of the one problem: seeds 0 and 2 right, 1 and 3 wrong; seed 3 gets no
    answer while the file 'down' exists (as a run interrupted before it was answered)."""
    if request.seed == 3 and Path("down").exists():
        return Failed("the server went away")
    return SOLVED if request.seed % 2 == 0 else WRONG
'''


def test_repeats_keep_every_attempt_in_one_row_and_a_rerun_asks_only_the_missing_attempts(
        pytester: pytest.Pytester) -> None:
    rows = [json.loads(line) for line in PROBLEMS.read_text(encoding="utf-8").splitlines()][:1]
    (pytester.path / "problems.jsonl").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    pytester.makefile(".llmeval.yaml", code=(
        "name: code\ntask: code\ndata: {format: humaneval, path: problems.jsonl, subject: python}\n"
        "prompt: '{prompt}'\nrepeats: 4\npass_at_k: [1, 2, 4]\ngeneration: {temperature: 0.8}\n"))
    pytester.makepyfile(seeded=_SEEDED)
    pytester.syspathinsert()
    profile = {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"reply": "seeded:reply"}}
    pytester.makefile(".yaml", llm_models=json.dumps({"models": {"scripted": profile}}))
    args = ["--llm-model=scripted", "--llm-retries=0", "-p", "no:cacheprovider", "--llm-cache=journal.sqlite3"]
    (pytester.path / "down").touch()
    interrupted = pytester.runpytest(*args, "--llm-report-dir=first")
    assert sample_outcomes(interrupted) == {"errors": 1}, interrupted.stdout.str()
    [row] = read_samples(pytester.path / "first")
    assert row["error"].startswith("attempt 4 of 4: ") and row["correct"] is None

    (pytester.path / "down").unlink()
    resumed = pytester.runpytest(*args, "--llm-report-dir=second")
    assert sample_outcomes(resumed) == {"missed": 1}, resumed.stdout.str()  # pass^4: not every attempt right
    [row] = read_samples(pytester.path / "second")
    assert [a["cached"] for a in row["attempts"]] == [True, True, True, False]  # only attempt 4 was asked
    assert [a["correct"] for a in row["attempts"]] == [True, False, True, False]
    assert row["pass_at"] == {"pass@1": 0.5, "pass@2": pytest.approx(5 / 6, abs=1e-6), "pass@4": 1.0}
    document = read_results(pytester.path / "second")
    [subject] = document["subjects"]
    assert (subject["score"], subject["correct"], subject["metric"]) == (0.5, 0, "pass@1")  # mean pass@1; pass^4
    assert document["pass_at_k"] == [{"model": "scripted", "suite": "code", "subject": "python", "n": 1,
                                      "repeats": 4, "pass@1": 0.5, "pass@2": pytest.approx(5 / 6, abs=1e-6),
                                      "pass@4": 1.0, "pass^4": 0.0}]
    resumed.stdout.fnmatch_lines(["*pass@k code/python [[]scripted]: pass@1 0.500  pass@2 0.833  pass@4 1.000  "
                                  "pass^4 0.000 (1 problems x 4 attempts)*"])


def test_repeats_at_temperature_0_are_refused_in_one_line(pytester: pytest.Pytester) -> None:
    _code_suite(pytester, extra="repeats: 5\n")
    result = pytester.runpytest(*scripted_args(pytester, {}), "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*code.llmeval.yaml: repeats: 5 attempts at temperature 0 (model test-model) would "
                                 "be copies of one reply*"])


def test_pass_at_k_above_repeats_is_refused(pytester: pytest.Pytester) -> None:
    _code_suite(pytester, extra="repeats: 2\npass_at_k: [1, 5]\ngeneration: {temperature: 0.5}\n")
    result = pytester.runpytest(*scripted_args(pytester, {}), "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*pass_at_k: pass@5 needs 1 <= k <= repeats (2)*"])
