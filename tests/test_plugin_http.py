"""The ``http`` backend end to end: ``llm_models.yaml`` profiles for TGI, Triton and MindIE servers,
run through pytest as a user would, with and without xdist."""

from __future__ import annotations

import json

import pytest

from tests.e2e import MC_ROWS, XDIST_MODES, mc_replies, mc_user_message, read_results, read_samples, write_mc_suite
from tests.servers.native_servers import Fault

TGI_TOKEN = "tgi-secret-7f3a9c"
TRITON_KEY = "triton-secret-51de0b"
MODELS = ["tgi", "tgi-stream", "triton", "triton-stream", "mindie", "mindie-stream"]


def _profiles(tgi: str, triton: str, mindie: str) -> str:
    return f"""\
models:
  tgi:
    backend: http
    base_url: {tgi}
    api_key_env: TGI_TOKEN
    options: {{preset: tgi}}
  tgi-stream:
    backend: http
    base_url: {tgi}
    api_key_env: TGI_TOKEN
    options: {{preset: tgi-stream}}
  triton:
    backend: http
    model: quiz-llm
    base_url: {triton}
    options:
      preset: triton
      headers: {{X-Api-Key: "${{TRITON_KEY}}"}}
  triton-stream:
    backend: http
    model: quiz-llm
    base_url: {triton}
    options:
      preset: triton
      stream: true
      headers: {{X-Api-Key: "${{TRITON_KEY}}"}}
  mindie:
    backend: http
    base_url: {mindie}
    options: {{preset: mindie}}
  mindie-stream:
    backend: http
    base_url: {mindie}
    options: {{preset: mindie, stream: true}}
"""


@pytest.fixture
def quiz_servers(native_server_factory, monkeypatch):
    monkeypatch.setenv("TGI_TOKEN", TGI_TOKEN)
    monkeypatch.setenv("TRITON_KEY", TRITON_KEY)
    return {
        "tgi": native_server_factory("tgi", mc_replies(), "no idea",
                                     required_headers={"Authorization": f"Bearer {TGI_TOKEN}"}),
        "triton": native_server_factory("triton", mc_replies(), "no idea", known_models={"quiz-llm"},
                                        required_headers={"X-Api-Key": TRITON_KEY}),
        "mindie": native_server_factory("mindie", mc_replies(), "no idea"),
    }


def _write_profiles(pytester: pytest.Pytester, servers: dict[str, object], text: str | None = None) -> None:
    urls = {name: server.base_url for name, server in servers.items()}  # type: ignore[attr-defined]
    pytester.makefile(".yaml", llm_models=text if text is not None else _profiles(**urls))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_every_preset_runs_a_suite_and_scores_right(pytester, quiz_servers, xdist):
    write_mc_suite(pytester)
    _write_profiles(pytester, quiz_servers)
    models = [f"--llm-model={name}" for name in MODELS]
    result = pytester.runpytest(*models, "--llm-retries=0", "--llm-report-dir=out", *xdist)
    result.stdout.fnmatch_lines([f"*{5 * len(MODELS)} passed*{len(MODELS)} missed*"])
    assert result.ret == 0
    rows = {(r["model"], r["subject"]): (r["n"], r["correct"]) for r in read_results(pytester.path / "out")["subjects"]}
    assert rows == {(m, s): ((3, 3) if s == "geo" else (3, 2)) for m in MODELS for s in ("geo", "sci")}
    paths = {r.path for server in quiz_servers.values() for r in server.requests}
    assert paths == {"/generate", "/generate_stream", "/v2/models/quiz-llm/generate",
                     "/v2/models/quiz-llm/generate_stream", "/infer"}
    sent = [r.body for r in quiz_servers["tgi"].requests]
    assert sorted(b["inputs"] for b in sent) == sorted(2 * [mc_user_message(row) for row in MC_ROWS])


def test_reports_hold_no_secret(pytester, quiz_servers):
    write_mc_suite(pytester)
    _write_profiles(pytester, quiz_servers)
    result = pytester.runpytest("--llm-model=tgi", "--llm-model=triton-stream", "--llm-report-dir=out")
    assert result.ret == 0
    written = "".join(p.read_text(encoding="utf-8") for p in (pytester.path / "out").iterdir())
    written += result.stdout.str() + result.stderr.str()
    assert TGI_TOKEN not in written and TRITON_KEY not in written
    assert "TGI_TOKEN" in (pytester.path / "out" / "results.json").read_text(encoding="utf-8")  # the name, kept


def test_an_echoed_secret_never_reaches_the_reports(pytester, native_server_factory, monkeypatch):
    monkeypatch.setenv("TGI_TOKEN", TGI_TOKEN)
    echo = json.dumps({"error": f"token {TGI_TOKEN} may not use this model", "error_type": "validation"})
    server = native_server_factory("tgi", mc_replies(), faults=[Fault.http(400, body=echo)] * 100)
    write_mc_suite(pytester)
    pytester.makefile(".yaml", llm_models=f"models:\n  tgi:\n    backend: http\n    base_url: {server.base_url}\n"
                                          "    api_key_env: TGI_TOKEN\n    options: {preset: tgi}\n")
    result = pytester.runpytest("--llm-model=tgi", "--llm-retries=0", "--llm-report-dir=out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*6 error*"])
    samples = read_samples(pytester.path / "out")
    assert all("HTTP 400" in s["error"] and "token *** may not" in s["error"] for s in samples)
    written = (pytester.path / "out" / "samples.jsonl").read_text(encoding="utf-8") + result.stdout.str()
    assert TGI_TOKEN not in written


def test_a_prompt_too_long_is_a_miss_with_its_reason(pytester, native_server_factory):
    server = native_server_factory("tgi", mc_replies(), max_input_tokens=3)
    write_mc_suite(pytester, threshold=0.0)
    pytester.makefile(".yaml", llm_models=f"models:\n  tgi:\n    backend: http\n    base_url: {server.base_url}\n"
                                          "    options: {preset: tgi-stream}\n")
    result = pytester.runpytest("--llm-model=tgi", "--llm-retries=0", "--llm-report-dir=out")
    result.stdout.fnmatch_lines(["*6 missed*"])
    assert "error" not in result.outlines[-1]
    samples = read_samples(pytester.path / "out")
    assert all(s["correct"] is False and "`inputs` must have less than 3 tokens" in s["rejected"] for s in samples)


def test_server_failures_are_retried_by_the_engine(pytester, native_server_factory):
    server = native_server_factory("mindie", mc_replies(), faults=[Fault.http(503, retry_after="0"), Fault.drop()])
    write_mc_suite(pytester)
    pytester.makefile(".yaml", llm_models=f"models:\n  mindie:\n    backend: http\n    base_url: {server.base_url}\n"
                                          "    options: {preset: mindie, stream: true}\n")
    result = pytester.runpytest("--llm-model=mindie", "--llm-retries=2")
    result.stdout.fnmatch_lines(["*5 passed*1 missed*"])
    assert len(server.requests) == len(MC_ROWS) + 2  # both failures were answered by one retry each


@pytest.mark.parametrize(("options", "needles"), [
    ("{preset: tgi, reply_pth: generated_text}", ["options.reply_pth", "unknown key"]),
    ("{preset: tgi, body: {inputs: '{question}'}}", ["options.body.inputs", "unknown placeholder {question}"]),
    ("{preset: tgi, headers: {Authorization: 'Bearer ${NO_SUCH_VAR}'}}", ["options.headers.Authorization", "NO_SUCH_VAR"]),
])
def test_a_bad_profile_option_is_one_line_naming_the_key(pytester, native_server_factory, options, needles):
    server = native_server_factory("tgi", mc_replies())
    write_mc_suite(pytester)
    pytester.makefile(".yaml", llm_models=f"models:\n  tgi:\n    backend: http\n    base_url: {server.base_url}\n"
                                          f"    options: {options}\n")
    result = pytester.runpytest("--llm-model=tgi")
    assert result.ret != 0 and not server.requests
    lines = [line for line in result.outlines if all(needle in line for needle in needles)]
    assert lines, result.stdout.str()
    assert "Traceback" not in result.stdout.str()
