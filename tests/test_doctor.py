"""``pytest-llmeval doctor``, the installed command run as a user would: on this checkout as it is,
then in projects where each check has something to find (a crashing llama.cpp build, a key that
is not set, an unwritable journal, missing data and browser), with the fix on each line and never
a key's value."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmeval.machine import cpu
from tests._sandbox import SANDBOX_PROBLEM
from tests.native_standin import standin_path

REPO = Path(__file__).resolve().parents[1]
NAMES = ["versions", "backend openai", "backend http", "backend llamacpp", "backend hf", "cpu", "llama.cpp build",
         "bundled model", "models", "keys of built-in profiles", "shared data", "journal", "user cache", "chromium",
         "sandbox"]
SECRET = "sk-doctor-secret-0987654321"


def _doctor(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_") and not k.startswith("DOCTOR_")}
    environment.update(env)
    return subprocess.run([str(Path(sys.executable).with_name("pytest-llmeval")), "doctor", *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=600)


def _lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's line by its name (``status  name: text``)."""
    found = {}
    for line in done.stdout.splitlines():
        match = re.match(r"(ok|warn|FAIL) +([^:]+): ", line)
        if match:
            found[match.group(2)] = line
    return found


def test_doctor_on_this_checkout(tmp_path):
    done = _doctor(REPO, XDG_CACHE_HOME=str(tmp_path))
    lines = _lines(done)
    assert list(lines) == NAMES, done.stdout
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("doctor: 0 failed"), done.stdout
    machine = cpu()
    assert lines["cpu"].startswith("ok") and f"AMX: {'yes' if machine.amx else 'no'}" in lines["cpu"]
    assert ("AVX2" in lines["cpu"]) == ("avx2" in machine.flags)
    assert re.match(r"ok +bundled model: SmolLM2-135M-Instruct\.Q4_1\.gguf loaded in [\d.]+ s and answered in "
                    r"[\d.]+ s in a child process \([\d.]+ s in all\)$", lines["bundled model"])
    assert lines["llama.cpp build"].startswith("ok") or "CMAKE_ARGS" in lines["llama.cpp build"]
    assert lines["models"].endswith("smollm2 (built-in profiles only)")
    assert lines["chromium"].startswith("ok" if Path("/usr/bin/chromium").is_file() else "warn")
    assert re.match(r"ok +sandbox: bubblewrap [\d.]+: model-written code runs as nobody, without network$",
                    lines["sandbox"]) if SANDBOX_PROBLEM is None else lines["sandbox"].startswith("warn")


def test_doctor_names_each_problem_and_how_to_fix_it(pytester):
    standin = standin_path(pytester.path / "standin")
    pytester.makefile(".yaml", llm_models=(
        "default: mine\nmodels:\n"
        "  mine: {model: x, base_url: 'http://127.0.0.1:9/v1', api_key_env: DOCTOR_MISSING_KEY}\n"
        "  spare: {model: y, base_url: 'http://127.0.0.1:9/v1', api_key_env: DOCTOR_SPARE_KEY}\n"))
    (pytester.path / "blocker").write_text("a file where the journal's folder would be")
    pytester.makeini("[pytest]\nllm_cache = blocker/replies.sqlite3\n")
    native = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 |"
    done = _doctor(pytester.path, PYTHONPATH=str(standin), STANDIN_CRASH_AT="decode", STANDIN_SYSTEM_INFO=native,
                   XDG_CACHE_HOME=str(pytester.path / "cache"), DOCTOR_SPARE_KEY=SECRET, CI="true",
                   LLMEVAL_SHARED_DATA=str(pytester.path / "absent"),
                   LLMEVAL_CHROMIUM=str(pytester.path / "absent-chromium"), PATH=str(pytester.mkdir("no-bwrap")))
    lines = _lines(done)
    assert done.returncode == 1, done.stdout
    assert SECRET not in done.stdout + done.stderr
    assert re.match(r"FAIL +bundled model: llama-cpp-python 0\.3\.36 \(.*standin/llama_cpp\) crashed with SIGSEGV "
                    r"while decoding with SmolLM2-135M-Instruct\.Q4_1\.gguf in a child process, on this CPU \(.*\); "
                    r"reinstall a build for this CPU: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" .* -m pip install "
                    r"--no-cache-dir --force-reinstall --no-deps llama-cpp-python==0\.3\.36$", lines["bundled model"])
    if cpu().amx:
        assert lines["llama.cpp build"].startswith("warn") and "AMX kernels crash on this CPU" in lines[
            "llama.cpp build"]
    else:
        assert lines["llama.cpp build"].startswith("FAIL") and "this CPU lacks AMX_INT8, so it can die with SIGILL " \
            'here; fix: CMAKE_ARGS="-DGGML_NATIVE=OFF"' in lines["llama.cpp build"]
    assert lines["models"].endswith("mine (llm_models.yaml)")
    assert lines["key DOCTOR_MISSING_KEY"] == ("FAIL  key DOCTOR_MISSING_KEY: not set (profile mine); "
                                               "fix: export DOCTOR_MISSING_KEY=... before --llm-model=mine")
    assert lines["key DOCTOR_SPARE_KEY"] == "ok    key DOCTOR_SPARE_KEY: set (profile spare)"
    assert lines["shared data"].startswith("FAIL") and lines["shared data"].endswith(
        "and fail under CI=true; fix: set LLMEVAL_SHARED_DATA to the folder")
    assert lines["journal"] == ("FAIL  journal: blocker/replies.sqlite3 cannot be created (blocker is not a writable "
                                "folder); fix: --llm-cache=PATH (or llm_cache in the ini file) naming a file you "
                                "can write")
    assert lines["chromium"].startswith("FAIL") and lines["chromium"].endswith(
        "fail under CI=true; fix: apt-get install -y chromium chromium-driver (or set LLMEVAL_CHROMIUM)")
    assert lines["sandbox"] == ("FAIL  sandbox: model-written code cannot be run, and the sandbox tests skip, and "
                                "fail under CI=true: bubblewrap is not installed (no bwrap on PATH): apt-get install "
                                "bubblewrap, or dnf install bubblewrap")


def test_doctor_warns_where_a_run_works_but_tests_would_skip(pytester):
    """Without CI, missing data and browser only make tests skip, and a profile the run does not
    use may lack its key: warnings, exit status 0. Profiles are found beside the paths given."""
    suites = pytester.mkdir("suites")
    (suites / "llm_models.yaml").write_text("default: smollm2\nmodels:\n  later: {model: z, base_url: "
                                            "'http://127.0.0.1:9/v1', api_key_env: DOCTOR_LATER_KEY}\n")
    done = _doctor(pytester.path, "suites", XDG_CACHE_HOME=str(pytester.path / "cache"), CI="",
                   LLMEVAL_SHARED_DATA=str(pytester.path / "absent"),
                   LLMEVAL_CHROMIUM=str(pytester.path / "absent-chromium"), PATH=str(pytester.mkdir("no-bwrap")))
    lines = _lines(done)
    assert done.returncode == 0, done.stdout
    assert lines["models"].endswith(f"smollm2 ({Path('suites') / 'llm_models.yaml'})")
    assert lines["key DOCTOR_LATER_KEY"].startswith("warn  key DOCTOR_LATER_KEY: not set (profile later)")
    assert lines["shared data"].startswith("warn") and "skip; fix: set LLMEVAL_SHARED_DATA" in lines["shared data"]
    assert lines["chromium"].startswith("warn") and "tests skip; fix: apt-get install" in lines["chromium"]
    assert lines["sandbox"].startswith("warn  sandbox: model-written code cannot be run, and the sandbox tests skip: "
                                       "bubblewrap is not installed")
    assert lines["journal"].startswith("ok    journal: .pytest_cache/d/llmeval/replies.sqlite3: not written yet")


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"]])
def test_the_command_lists_doctor(argv):
    done = subprocess.run([str(Path(sys.executable).with_name("pytest-llmeval")), *argv], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "doctor" in done.stdout


def test_doctor_reaches_the_coordination_server_the_ini_names_without_showing_its_password(pytester, redis_server):
    url = f"redis://:${{DOCTOR_REDIS_PASSWORD}}@127.0.0.1:{redis_server.port}/0"
    pytester.makeini(f"[pytest]\nllm_coordination = {url}\n")
    done = _doctor(pytester.path, DOCTOR_REDIS_PASSWORD=redis_server.password)
    wrong = _doctor(pytester.path, "--coordination", f"redis://:not-{redis_server.password}@127.0.0.1:"
                    f"{redis_server.port}/0")
    assert re.match(r"ok    coordination: redis://:\*\*\*@127\.0\.0\.1:\d+/0: Redis \d", _lines(done)["coordination"])
    assert _lines(wrong)["coordination"].startswith("FAIL  coordination: cannot reach the coordination server ")
    assert "wrong or missing password); fix: " in _lines(wrong)["coordination"] and wrong.returncode == 1
    assert redis_server.password not in done.stdout + done.stderr + wrong.stdout + wrong.stderr
