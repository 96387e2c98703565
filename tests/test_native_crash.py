"""A local model whose native library crashes never takes the run down with it, end to end.

The stand-in llama_cpp of ``native_standin`` is first on the path of each pytest run (a subprocess,
as a user's would be), beside an OpenAI-compatible model on a loopback server:
- a build that crashes in the probe: that model's samples are errors with one line naming the
  cause and the reinstall command, the other model keeps every result, the summary is complete
  and the exit status is 1, not a crash; two workers probe once (test_llamacpp_probe has the rest);
- under ``-n 2``, a crash after the probe passed kills a worker mid-run: the sample it ran and
  the rest of that model's samples are errors, the other model's results are whole, the summary
  lists every subject, and the run ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import XDIST_MODES, read_results, read_samples, write_jsonl
from tests.native_standin import standin_path
from tests.servers.fault_server import FaultServer

SUBJECTS = ("a", "b")
POISONED = "a2"  # the sample whose prompt crashes the stand-in after the probe has passed


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A suite of 2 subjects x 4 samples, a llamacpp model (the stand-in) and the loads' log."""
    standin = standin_path(pytester.path / "standin")
    monkeypatch.setenv("PYTHONPATH", str(standin))
    monkeypatch.setenv("XDG_CACHE_HOME", str(pytester.path / "cache"))
    monkeypatch.setenv("STANDIN_LOG", str(pytester.path / "loads.log"))
    (pytester.path / "model.gguf").write_bytes(b"GGUF stand-in")
    rows = [{"id": f"{s}{i}", "topic": s, "answer": "ok",
             "question": f"{'CRASH ' if f'{s}{i}' == POISONED else ''}question {s}{i}"}
            for s in SUBJECTS for i in range(4)]
    write_jsonl(pytester.path / "data" / "qa.jsonl", rows)
    pytester.makefile(".llmeval.yaml", qa="name: qa\ntask: exact_match\n"
                      "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\n"
                      "prompt: '{question}'\n")
    return pytester.path / "loads.log"


def _run(pytester: pytest.Pytester, server: FaultServer, *extra: str) -> pytest.RunResult:
    pytester.makefile(".yaml", llm_models=(
        "models:\n  local:\n    backend: llamacpp\n    model_path: model.gguf\n"
        f"  remote:\n    backend: openai\n    base_url: {server.base_url}\n    model: m\n    retries: 0\n"))
    return pytester.runpytest_subprocess("--llm-model=local", "--llm-model=remote", "--llm-report-dir=out",
                                         "-p", "no:cacheprovider", "--llm-cache=off", *extra, timeout=240)


def _rows(folder: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(r["model"], r["subject"]): (r["n"], r["correct"], r["errors"]) for r in read_results(folder)["subjects"]}


def _loads(log: Path, role: str) -> int:
    return sum(f" {role} " in line for line in log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_build_that_crashes_fails_its_model_in_one_line_while_the_other_model_keeps_its_results(
        pytester, project, monkeypatch, xdist):
    monkeypatch.setenv("STANDIN_CRASH_AT", "decode")
    with FaultServer(default_reply="ok") as server:
        result = _run(pytester, server, *xdist)
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output  # 1: not 139, not a traceback
    line = ("llama-cpp-python 0.3.36 (*llama_cpp) crashed with SIGSEGV while decoding with model.gguf in a child "
            "process, on this CPU (*, AMX: *); reinstall a build for this CPU: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" "
            "* -m pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python==0.3.36")
    result.stdout.fnmatch_lines(["*llmeval summary*",
                                 f"8 samples had backend errors (first: local qa/a id=a0: {line})"])
    assert "Traceback" not in output and "Fatal Python error" not in output
    assert _rows(pytester.path / "out") == {("local", "a"): (0, 0, 4), ("local", "b"): (0, 0, 4),
                                             ("remote", "a"): (4, 4, 0), ("remote", "b"): (4, 4, 0)}
    assert len(read_samples(pytester.path / "out")) == 16
    assert _loads(project, "probe") == 1 and _loads(project, "run") == 0  # one probe, even for two workers


def test_a_worker_killed_mid_run_errors_its_model_and_the_summary_is_complete(pytester, project, monkeypatch):
    monkeypatch.setenv("STANDIN_CRASH_ON", "CRASH")
    with FaultServer(default_reply="ok") as server:
        result = _run(pytester, server, "-n", "2")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "replacing crashed worker" in output and "llmeval summary: local, remote" in output
    rows = _rows(pytester.path / "out")
    assert rows[("remote", "a")] == rows[("remote", "b")] == (4, 4, 0)  # the other model lost nothing
    assert all(n + errors == 4 for n, _, errors in rows.values()) and rows[("local", "a")][2] >= 1
    samples = {(s["model"], s["subject"], s["id"]): s for s in read_samples(pytester.path / "out")}
    assert len(samples) == 16  # every sample of both models has its one result
    errors = [s["error"] for s in samples.values() if s["error"]]
    assert errors and all("xdist worker gw" in e and "died while running" in e for e in errors)
    assert samples[("local", "a", POISONED)]["correct"] is None  # the crashing sample is an error, not a miss
    verdict = json.loads((pytester.path / "out" / "results.json").read_text())["verdict"]
    assert not verdict["passed"] and any("backend errors" in f for f in verdict["failures"])
