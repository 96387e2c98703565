"""Whether this machine's llama-cpp-python build can run a model, asked of a child process before
the first load in this one.

llama-cpp-python compiles llama.cpp when it is installed, and a build can crash the process that
uses it: built with ``-march=native`` (its default) on an AMX CPU (Intel Sapphire Rapids and later)
it segfaults in its AMX kernels on the first decode (ggml-org/llama.cpp#20824), and a wheel built
on another CPU (pip's wheel cache, a shared image) dies with SIGILL. A crash in pytest's own
process ends the run with exit 139: no summary, no results. So a child process loads the model
and decodes a few tokens first; a crash there becomes one line that names the cause and the
reinstall command, and the samples of that model become errors while the run goes on.

The verdict is remembered in the user cache (``~/.cache/pytest-llmeval/probe/``) per build (the
package's files: path, size, mtime), CPU (``machine.CPU.identity``) and model file (path, size,
mtime), so a later run pays a few dozen ``stat`` calls and one small read. A file lock makes xdist
workers that start together probe once. An answer and a crash (SIGSEGV, SIGILL, SIGBUS, SIGFPE,
SIGABRT) are remembered; a timeout or a kill (out of memory?) fails this run's samples of the
model (the workers that waited for it read it too) and is asked again by the next run. A Python
error in the child (no llama_cpp, a file llama.cpp cannot read) is no verdict: the load in this
process then reports it as usual.

Run as ``python -m pytest_llmeval.backends.llamacpp_probe '<json>'`` it is the child.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..machine import CPU, cpu, user_cache_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: workers may probe side by side
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "INSTALL_LLAMACPP", "PORTABLE_CMAKE_ARGS", "PORTABLE_FEATURES", "PROBE_TIMEOUT_S", "Verdict", "build_features",
    "check_build", "extra_bufts_safe", "instruction_sets", "missing_instructions", "reinstall_command",
]

PROBE_TIMEOUT_S = 300
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF"
# The README's install, for every message that tells someone to install llama-cpp-python:
INSTALL_LLAMACPP = f"CMAKE_ARGS=\"{PORTABLE_CMAKE_ARGS}\" pip install 'pytest-llmeval[llamacpp]'"
# llama.cpp's x86 defaults with GGML_NATIVE=OFF: x86-64-v3, every AVX2 CPU (Intel since 2013, AMD since 2015).
PORTABLE_FEATURES = frozenset({"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"})
# llama_print_system_info() names -> /proc/cpuinfo flags
_CPU_FLAG = {"SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c", "FMA": "fma",
             "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
             "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8"}
_CRASHES = frozenset({"SIGSEGV", "SIGILL", "SIGBUS", "SIGFPE", "SIGABRT"})
_STAGES = {"importing": "importing llama_cpp for", "loading": "loading", "decoding": "decoding with",
           "closing": "closing"}
_RECENT_S = 60.0  # a timeout or kill is shared with the processes that waited for that probe, no longer
_MARK = "@@llmeval-probe "
_PROMPT = "The capital of France is"
_FORMAT = 1  # bump when what the child checks changes: older verdicts are then asked again

_MEMO: dict[str, Verdict] = {}
_MEMO_LOCK = threading.Lock()


@dataclass(frozen=True)
class Verdict:
    """What the child found. ``status``: ``ok``; ``crashed`` (killed by a crash signal);
    ``timeout``; ``killed`` (another signal); ``failed`` (a Python error: no verdict)."""

    status: str
    message: str = ""  # the one line for the user, when not ok
    version: str = ""  # llama_cpp.__version__, as the child imported it
    system_info: str = ""  # llama_print_system_info(): what the build was compiled for
    extra_bufts: bool = True  # whether the model loads with llama.cpp's extra buffer types
    load_s: float | None = None
    decode_s: float | None = None
    seconds: float = 0.0  # the whole probe: the child's start to its exit
    stderr: str = ""  # the end of the child's stderr (faulthandler's traceback, llama.cpp's assert)
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def fails_the_model(self) -> bool:
        """A crash, a hang or a kill: loading in this process would take the run down with it."""
        return self.status in ("crashed", "timeout", "killed")

    @property
    def final(self) -> bool:
        """Worth remembering: it will be the same next time on this build, CPU and model."""
        return self.status in ("ok", "crashed")


def check_build(file: Path, n_ctx: int, n_threads: int, *, timeout_s: float = PROBE_TIMEOUT_S,
                fresh: bool = False) -> Verdict:
    """The verdict for loading ``file`` with this build on this CPU: remembered, or asked of a
    child process now (``fresh`` always asks, and remembers the new answer)."""
    key = _key(file)
    with _MEMO_LOCK:
        if not fresh and key in _MEMO:
            return _MEMO[key]
        folder = _cache_folder()
        with _locked(folder / f"{key}.lock") if folder else contextlib.nullcontext():
            verdict = None if fresh or folder is None else _read(folder / f"{key}.json")
            if verdict is None:
                verdict = _probe(file, n_ctx, n_threads, timeout_s)
                if folder is not None and (verdict.final or verdict.fails_the_model):
                    _write(folder / f"{key}.json", verdict, file)
        if verdict.final:
            _MEMO[key] = verdict
        return verdict


def extra_bufts_safe(system_info: str, machine: CPU) -> bool:
    """False when the build has llama.cpp's AMX kernels and this CPU would run them. Those kernels
    are reached only through the AMX "extra" buffer type that weights are repacked into at load;
    loading with ``use_extra_bufts=False`` keeps the weights in plain CPU buffers, whose kernels
    are the ones every other CPU runs (it also turns off CPU_REPACK, which the bundled Q4_1 model
    does not use: benchmarks/RESULTS.md)."""
    return not ("AMX_INT8" in build_features(system_info) and machine.amx)


def build_features(system_info: str) -> list[str]:
    """The ``NAME = 1`` entries of ``llama_print_system_info()``, in its order."""
    return re.findall(r"([A-Z][A-Z0-9_]*) = 1\b", system_info)


def instruction_sets(system_info: str) -> list[str]:
    """The build's features that are CPU instruction sets (not LLAMAFILE, OPENMP, REPACK)."""
    return [name for name in build_features(system_info) if name in _CPU_FLAG]


def missing_instructions(system_info: str, machine: CPU) -> list[str]:
    """The build's instruction sets this CPU lacks (each one a SIGILL waiting to happen)."""
    if not machine.flags:
        return []
    return [name for name in instruction_sets(system_info) if _CPU_FLAG[name] not in machine.flags]


def reinstall_command(version: str, machine: CPU) -> str:
    """The exact pip command that replaces this interpreter's llama-cpp-python by a build that runs
    on ``machine``: portable (x86-64-v3) where the CPU has AVX2, else one for this CPU alone.
    ``--no-cache-dir``: pip would otherwise reuse the wheel it built before, whose cache key is
    the source's URL and never CMAKE_ARGS (pypa/pip#11164)."""
    lacks_avx2 = machine.x86 and machine.flags and "avx2" not in machine.flags
    flags = "-DGGML_NATIVE=ON" if lacks_avx2 else PORTABLE_CMAKE_ARGS
    pin = f"=={version}" if re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version or "") else ""
    return (f'CMAKE_ARGS="{flags}" {shlex.quote(sys.executable)} -m pip install --no-cache-dir --force-reinstall '
            f"--no-deps llama-cpp-python{pin}")


# -- this process's side ------------------------------------------------------------------------

def _key(file: Path) -> str:
    """What a verdict is about. The model file is part of it because llama.cpp picks its kernels
    by the tensors' types (the AMX kernels take Q4_0, Q4_1, Q8_0, K-quants and IQ4_XS, not F16);
    the context size and thread count are not, so a later load with others reuses the verdict."""
    stat = file.stat()
    parts = {"format": _FORMAT, "build": _build_identity(), "cpu": cpu().identity(),
             "model": [str(file), stat.st_size, stat.st_mtime_ns], "python": sys.executable}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _build_identity() -> list[Any]:
    """The files of the llama_cpp package that ``import llama_cpp`` would load here: any
    reinstall, by whatever flags, changes a size or a modification time. Nothing is imported."""
    folder = _package_folder()
    if folder is None:
        return []
    found: list[Any] = [str(folder)]
    for path in sorted(folder.rglob("*")):
        if "__pycache__" not in path.parts and path.is_file():
            stat = path.stat()
            found.append([str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns])
    return found


def _package_folder() -> Path | None:
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).resolve().parent


def _probe(file: Path, n_ctx: int, n_threads: int, timeout_s: float) -> Verdict:
    argument = json.dumps({"file": str(file), "n_ctx": n_ctx, "n_threads": n_threads})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # import what we would
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-X", "faulthandler", "-m", __spec__.name, argument],
                              stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout_s)
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, code = exc.stdout or b"", exc.stderr or b"", None
    events = _events(stdout.decode("utf-8", "replace"))
    return _verdict(events, code, _tail(stderr.decode("utf-8", "replace")), file, timeout_s,
                    time.perf_counter() - started)


def _events(stdout: str) -> dict[str, Any]:
    """The child's reports, merged: the last ``stage`` is where it was when it stopped."""
    merged: dict[str, Any] = {"stage": "importing"}
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            with contextlib.suppress(ValueError):
                merged.update(json.loads(line[len(_MARK):]))
    return merged


def _verdict(events: dict[str, Any], code: int | None, stderr: str, file: Path, timeout_s: float,
             seconds: float) -> Verdict:
    facts = Verdict("", version=str(events.get("version", "")), system_info=str(events.get("system_info", "")),
                    extra_bufts=bool(events.get("extra_bufts", True)), load_s=events.get("load_s"),
                    decode_s=events.get("decode_s"), seconds=round(seconds, 3), stderr=stderr)
    if code == 0 and events["stage"] == "done":
        return replace(facts, status="ok")
    if code is not None and code >= 0:  # the child's own error: no verdict on the build
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return replace(facts, status="failed", message=str(events.get("error") or last))
    build = _describe_build(facts.version)
    stage = _STAGES.get(events["stage"], events["stage"])
    if code is None:
        return replace(facts, status="timeout", message=(
            f"{build} did not load {file.name} and answer within {timeout_s:g} s in a child process (stuck "
            f"{stage.split()[0]}); if it is only slow, raise probe_timeout in the model's options"))
    name, where = _signal_name(-code), f"while {stage} {file.name} in a child process"
    if name not in _CRASHES:
        return replace(facts, status="killed", message=f"{build} was killed with {name} {where} (out of memory?)")
    return replace(facts, status="crashed", message=_crash_line(build, name, where, facts.version, stderr))


def _crash_line(build: str, name: str, where: str, version: str, stderr: str) -> str:
    machine = cpu()
    why = " (an instruction this CPU does not have)" if name == "SIGILL" else ""
    said = _assertion(stderr) if name == "SIGABRT" else ""
    return (f"{build} crashed with {name}{why} {where}{said}, on this CPU ({machine.summary}, "
            f"AMX: {'yes' if machine.amx else 'no'}); reinstall a build for this CPU: "
            f"{reinstall_command(version or _installed_version(), machine)}")


def _describe_build(version: str) -> str:
    folder = _package_folder()
    return f"llama-cpp-python {version or _installed_version() or '(version unknown)'} ({folder})"


def _installed_version() -> str:
    """The version of the distribution installed beside the package folder (no import)."""
    folder = _package_folder()
    if folder is not None:
        for info in sorted(folder.parent.glob("llama_cpp_python-*.dist-info")):
            return info.name[len("llama_cpp_python-"):-len(".dist-info")]
    return ""


def _assertion(stderr: str) -> str:
    """llama.cpp's GGML_ASSERT / GGML_ABORT line, when it said why it aborted."""
    for line in reversed(stderr.splitlines()):
        if "GGML_ASSERT" in line or "GGML_ABORT" in line:
            return f" ({' '.join(line.split())[:200]})"
    return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _tail(text: str, limit: int = 4000) -> str:
    return text[-limit:]


def _cache_folder() -> Path | None:
    """Where verdicts are kept: the user cache, else a per-user temporary folder, else nowhere."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    for folder in (user_cache_dir() / "probe", Path(tempfile.gettempdir()) / f"pytest-llmeval-{user}" / "probe"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (released by the kernel if this process dies holding it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(path: Path) -> Verdict | None:
    """A remembered verdict: an answer or a crash; a timeout or kill only within ``_RECENT_S``
    (xdist workers that waited for the same probe), never in a later run."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        verdict = Verdict(**{f.name: data[f.name] for f in fields(Verdict) if f.name in data})
        recent = time.time() - float(data.get("written", 0)) < _RECENT_S
    except (OSError, ValueError, TypeError):
        return None
    return replace(verdict, cached=True) if verdict.final or (recent and verdict.fails_the_model) else None


def _write(path: Path, verdict: Verdict, file: Path) -> None:
    """The verdict, with what it is about in words, for whoever opens the file."""
    about = {"about": {"llama_cpp": str(_package_folder()), "cpu": cpu().summary, "model": str(file),
                       "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, "written": time.time()}
    with contextlib.suppress(OSError):
        from ..atomic import write_atomic

        write_atomic(path, json.dumps({**asdict(verdict), **about}, indent=1, sort_keys=True))


# -- the child's side ---------------------------------------------------------------------------

def _emit(stage: str, **facts: Any) -> None:
    print(_MARK + json.dumps({"stage": stage, **facts}), flush=True)


def _child(argument: str) -> int:
    """Import, load, decode, close: each step announced first, so a crash names the step."""
    spec = json.loads(argument)
    _emit("importing")
    try:
        import llama_cpp
    except ImportError as exc:
        _emit("failed", error=f"cannot import llama_cpp: {exc}")
        return 3
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    extra_bufts = extra_bufts_safe(info, cpu())
    _emit("loading", version=getattr(llama_cpp, "__version__", ""), system_info=info, extra_bufts=extra_bufts)
    from .llamacpp import _new_llama

    started = time.perf_counter()
    try:
        llm = _new_llama(Path(spec["file"]), int(spec["n_ctx"]), int(spec["n_threads"]), extra_bufts=extra_bufts)
    except Exception as exc:  # noqa: BLE001 - a file llama.cpp cannot read: the parent reports it itself
        _emit("failed", error=" ".join(str(exc).split()))
        return 3
    _emit("decoding", load_s=round(time.perf_counter() - started, 3))
    started = time.perf_counter()
    llm.create_completion(_PROMPT, max_tokens=4, temperature=0.0, seed=0)  # a prompt batch, then single tokens
    _emit("closing", decode_s=round(time.perf_counter() - started, 3))
    llm.close()
    _emit("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1]))
