"""The probe that tries a llama-cpp-python build in a child process before pytest loads a model:
its verdicts and lines for each way a native build fails (with the stand-in package of
``native_standin``, which dies of real signals), what it remembers and for how long, one probe
for processes that start together, and the real build on the real bundled model.

Each probe runs in a fresh process here, as in a run: pytest's own process has the real
llama_cpp imported already, and the verdicts it remembers in memory would hide the files."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends.bundled import bundled_model_path
from pytest_llmeval.backends.llamacpp_probe import (
    build_features, extra_bufts_safe, instruction_sets, missing_instructions, reinstall_command,
)
from pytest_llmeval.machine import CPU, read_cpu
from tests.native_standin import standin_path

_PROBE = """
import json, sys
from pathlib import Path
from pytest_llmeval.backends.llamacpp_probe import check_build
v = check_build(Path(sys.argv[1]), 512, 1, timeout_s=float(sys.argv[2]))
print(json.dumps({"status": v.status, "message": v.message, "cached": v.cached, "extra_bufts": v.extra_bufts,
                  "system_info": v.system_info, "seconds": v.seconds}))
"""
PORTABLE_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
                 "OPENMP = 1 | REPACK = 1 |")
NATIVE_SPR_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                   "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
                   "OPENMP = 1 | REPACK = 1 |")
_COMMON = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
           "syscall nx lm constant_tsc nopl pni pclmulqdq ssse3 cx16 sse4_1 sse4_2 popcnt aes xsave lahf_lm")
_V3 = " avx f16c fma movbe abm bmi1 bmi2 avx2"
_V4 = " avx512f avx512dq avx512cd avx512bw avx512vl avx512vbmi avx512_vnni avx512_bf16"
SAPPHIRE_RAPIDS = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n"
                   "model name\t: Intel(R) Xeon(R) Platinum 8488C\nstepping\t: 8\n"
                   f"flags\t\t: {_COMMON}{_V3}{_V4} avx_vnni amx_bf16 avx512_fp16 amx_tile amx_int8\n\n"
                   "processor\t: 1\nvendor_id\t: GenuineIntel\n")
ZEN4 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9R14\n"
        f"stepping\t: 1\nflags\t\t: {_COMMON}{_V3}{_V4}\n")
SANDY_BRIDGE = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 45\n"
                f"model name\t: Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz\nstepping\t: 7\nflags\t\t: {_COMMON} avx\n")
GRAVITON = ("processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics "
            "fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
            "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n")


@pytest.fixture
def standin(tmp_path: Path) -> Path:
    return standin_path(tmp_path / "standin")


def _probe(tmp_path: Path, model: Path, *, timeout_s: float = 60, pythonpath: Path | None = None,
           **env: str) -> dict[str, Any]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    environment.update(XDG_CACHE_HOME=str(tmp_path / "cache"), STANDIN_LOG=str(tmp_path / "loads.log"), **env)
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, "-c", _PROBE, str(model), str(timeout_s)], env=environment,
                          capture_output=True, text=True, timeout=timeout_s + 60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _probes(tmp_path: Path) -> int:
    log = tmp_path / "loads.log"
    return sum(" probe " in line for line in log.read_text().splitlines()) if log.exists() else 0


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF stand-in")
    return path


REINSTALL = ('reinstall a build for this CPU: CMAKE_ARGS="-DGGML_NATIVE=OFF" '
             f"{shlex.quote(sys.executable)} -m pip install --no-cache-dir --force-reinstall --no-deps "
             "llama-cpp-python")
CASES = [
    pytest.param({"STANDIN_CRASH_AT": "decode"}, "crashed",
                 "crashed with SIGSEGV while decoding with model.gguf in a child process, on this CPU (",
                 id="segv-decode"),
    pytest.param({"STANDIN_CRASH_AT": "load"}, "crashed", "crashed with SIGSEGV while loading model.gguf",
                 id="segv-load"),
    pytest.param({"STANDIN_CRASH_AT": "import", "STANDIN_SIGNAL": "SIGILL"}, "crashed",
                 "crashed with SIGILL (an instruction this CPU does not have) while importing llama_cpp for model.gguf",
                 id="sigill-import"),
    pytest.param({"STANDIN_CRASH_AT": "decode", "STANDIN_SIGNAL": "SIGABRT"}, "crashed", "crashed with SIGABRT while "
                 "decoding", id="abort-decode"),
]


@pytest.mark.parametrize(("env", "status", "says"), CASES)
def test_a_crash_is_one_line_with_the_cause_and_the_reinstall_command_and_is_remembered(tmp_path, standin, env,
                                                                                         status, says):
    model = _model(tmp_path)
    first = _probe(tmp_path, model, pythonpath=standin, **env)
    assert first["status"] == status and not first["cached"]
    line = first["message"]
    assert "\n" not in line and says in line and REINSTALL in line, line
    assert f"({standin / 'llama_cpp'})" in line and ("AMX: no" in line or "AMX: yes" in line)
    again = _probe(tmp_path, model, pythonpath=standin, **env)
    assert again == {**first, "cached": True}  # the next run reads the verdict: no child, no second crash
    assert _probes(tmp_path) == (0 if env["STANDIN_CRASH_AT"] in ("import", "load") else 1)


def test_a_build_that_answers_is_remembered_and_another_build_is_asked_afresh(tmp_path, standin):
    model = _model(tmp_path)
    first = _probe(tmp_path, model, pythonpath=standin)
    assert first["status"] == "ok" and first["system_info"].startswith("CPU : SSE3 = 1") and first["extra_bufts"]
    assert _probe(tmp_path, model, pythonpath=standin)["cached"] and _probes(tmp_path) == 1
    (standin / "llama_cpp" / "__init__.py").write_text(  # a reinstall: another build, another verdict
        (standin / "llama_cpp" / "__init__.py").read_text() + "\n# rebuilt\n")
    assert not _probe(tmp_path, model, pythonpath=standin)["cached"] and _probes(tmp_path) == 2
    model.write_bytes(b"GGUF another model")
    assert not _probe(tmp_path, model, pythonpath=standin)["cached"] and _probes(tmp_path) == 3


@pytest.mark.parametrize(("env", "timeout_s", "status", "says"), [
    pytest.param({"STANDIN_CRASH_AT": "load", "STANDIN_SIGNAL": "SIGKILL"}, 60, "killed",
                 "was killed with SIGKILL while loading model.gguf in a child process (out of memory?)", id="killed"),
    pytest.param({"STANDIN_HANG_AT": "decode"}, 3, "timeout", "did not load model.gguf and answer within 3 s in a "
                 "child process (stuck ", id="hang"),
])
def test_a_kill_or_a_hang_fails_this_run_and_the_next_run_asks_again(tmp_path, standin, env, timeout_s, status, says):
    model = _model(tmp_path)
    first = _probe(tmp_path, model, timeout_s=timeout_s, pythonpath=standin, **env)
    assert first["status"] == status and says in first["message"], first["message"]
    if status == "timeout":
        assert first["message"].endswith("if it is only slow, raise probe_timeout in the model's options")
    again = _probe(tmp_path, model, timeout_s=timeout_s, pythonpath=standin, **env)
    assert again["cached"]  # the workers that waited for this probe read it
    (verdict,) = (tmp_path / "cache" / "pytest-llmeval" / "probe").glob("*.json")
    verdict.write_text(json.dumps({**json.loads(verdict.read_text()), "written": 0}))  # a minute later: a new run
    assert not _probe(tmp_path, model, timeout_s=timeout_s, pythonpath=standin, **env)["cached"]


def test_a_python_error_in_the_child_is_no_verdict(tmp_path, standin):
    """A file llama.cpp cannot read raises in Python: the load in pytest's process reports it as
    usual (a ConfigError naming the file), and nothing is remembered."""
    model = _model(tmp_path)
    first = _probe(tmp_path, model, pythonpath=standin, STANDIN_RAISE_AT="load")
    assert first["status"] == "failed" and "stand-in load error" in first["message"]
    assert not _probe(tmp_path, model, pythonpath=standin, STANDIN_RAISE_AT="load")["cached"]


def test_processes_that_start_together_probe_once(tmp_path, standin):
    model = _model(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), STANDIN_LOG=str(tmp_path / "loads.log"), STANDIN_LOAD_S="1",
               PYTHONPATH=str(standin))
    started = [subprocess.Popen([sys.executable, "-c", _PROBE, str(model), "60"], env=env, stdout=subprocess.PIPE,
                                text=True) for _ in range(3)]
    verdicts = [json.loads(p.communicate(timeout=120)[0].splitlines()[-1]) for p in started]
    assert {v["status"] for v in verdicts} == {"ok"} and sorted(v["cached"] for v in verdicts) == [False, True, True]
    assert _probes(tmp_path) == 1


def test_the_real_build_runs_the_bundled_model_here(tmp_path):
    first = _probe(tmp_path, bundled_model_path())
    assert first["status"] == "ok", first["message"]
    assert "AVX2 = 1" in first["system_info"] or "NEON = 1" in first["system_info"]
    again = _probe(tmp_path, bundled_model_path())
    assert again["cached"] and again["status"] == "ok"


def test_loading_without_extra_buffer_types_answers_alike():
    """The AMX defence on the real library: ``use_extra_bufts`` is overridden for one load only,
    and the bundled model answers exactly as with the defaults (its Q4_1 weights are never
    repacked by a portable build: benchmarks/RESULTS.md)."""
    import llama_cpp.llama_cpp as low

    from pytest_llmeval.backends.llamacpp import _model_params, _new_llama

    with _model_params({"use_extra_bufts": False}):
        assert low.llama_model_default_params().use_extra_bufts is False
    assert low.llama_model_default_params().use_extra_bufts is True
    messages = [{"role": "user", "content": "Name three colours."}]
    replies = []
    for extra_bufts in (True, False):
        llm = _new_llama(bundled_model_path(), 512, 1, extra_bufts=extra_bufts)
        replies.append(llm.create_chat_completion(messages=messages, max_tokens=16, temperature=0.0, seed=0))
        llm.close()
    assert replies[0]["choices"][0]["message"] == replies[1]["choices"][0]["message"]


def _cpu(text: str, arch: str = "x86_64") -> CPU:
    return read_cpu(text, arch)


def test_cpus_are_read_from_proc_cpuinfo():
    spr, zen4, old, arm = _cpu(SAPPHIRE_RAPIDS), _cpu(ZEN4), _cpu(SANDY_BRIDGE), _cpu(GRAVITON, "aarch64")
    assert spr.model == "Intel(R) Xeon(R) Platinum 8488C" and spr.signature == "cpu family 6 model 143 stepping 8"
    assert spr.amx and spr.level == "x86-64-v4" and {"amx_int8", "amx_tile", "avx512_bf16"} <= set(spr.features)
    assert not zen4.amx and zen4.level == "x86-64-v4" and zen4.vendor == "AuthenticAMD"
    assert old.level == "x86-64-v2" and "avx2" not in old.flags
    assert arm.level is None and "asimd" in arm.flags and arm.model == "cpu implementer 0x41 cpu part 0xd0c"
    assert len({c.identity() for c in (spr, zen4, old, arm)}) == 4
    masked = read_cpu(SAPPHIRE_RAPIDS.replace(" amx_tile amx_int8", ""), "x86_64")  # a hypervisor hiding AMX
    assert masked.identity() != spr.identity() and not masked.amx


def test_the_amx_defence_applies_exactly_where_the_amx_kernels_would_run():
    spr, zen4 = _cpu(SAPPHIRE_RAPIDS), _cpu(ZEN4)
    assert not extra_bufts_safe(NATIVE_SPR_INFO, spr)  # a native build on its own AMX CPU: the crash case
    assert extra_bufts_safe(PORTABLE_INFO, spr)  # the portable build has no AMX kernels
    assert extra_bufts_safe(NATIVE_SPR_INFO.replace("AMX_INT8 = 1 | ", ""), spr)
    assert missing_instructions(NATIVE_SPR_INFO, zen4) == ["AVX_VNNI", "AMX_INT8"]  # SIGILL there, no AMX crash
    assert extra_bufts_safe(NATIVE_SPR_INFO, zen4)


def test_build_features_and_the_reinstall_command_per_cpu():
    assert build_features(PORTABLE_INFO) == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "LLAMAFILE",
                                             "OPENMP", "REPACK"]
    assert instruction_sets(PORTABLE_INFO) == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"]
    assert missing_instructions(PORTABLE_INFO, _cpu(SANDY_BRIDGE)) == ["AVX2", "F16C", "FMA", "BMI2"]
    python = shlex.quote(sys.executable)
    tail = f"{python} -m pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python==0.3.36"
    assert reinstall_command("0.3.36", _cpu(SAPPHIRE_RAPIDS)) == f'CMAKE_ARGS="-DGGML_NATIVE=OFF" {tail}'
    assert reinstall_command("0.3.36", _cpu(GRAVITON, "aarch64")) == f'CMAKE_ARGS="-DGGML_NATIVE=OFF" {tail}'
    assert reinstall_command("0.3.36", _cpu(SANDY_BRIDGE)) == f'CMAKE_ARGS="-DGGML_NATIVE=ON" {tail}'  # no AVX2
    assert reinstall_command("", _cpu(ZEN4)).endswith("--no-deps llama-cpp-python")
