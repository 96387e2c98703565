"""``pytest-llmeval doctor``: what a first run needs, checked one line at a time.

Each line is ``ok``, ``warn`` (it works, but is worth knowing) or ``FAIL`` (a run would fail or
crash), with what was found and, for a problem, how to fix it; the exit status is 1 when a check
failed. Nothing that may crash runs in this process: llama_cpp is imported, and the bundled model
loaded, by the plugin's own probe (a child process with a timeout), and the ``hf`` stack is
imported in a child too. Keys are never printed, only whether their variable is set.

The command is run from a project, as pytest would be: the rootdir and ini file are found the way
pytest finds them, and the model profiles beside them and beside the paths given.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import detail, one_line
from .machine import cpu, user_cache_dir

__all__ = ["Check", "Place", "checks", "main"]

OK, WARN, FAIL = "ok", "warn", "FAIL"
_INI_FILES = (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("pyproject.toml", None), ("tox.ini", "pytest"),
              ("setup.cfg", "tool:pytest"))
_HF_STACK = ("torch", "transformers", "accelerate", "gguf")
_IMPORT_TIMEOUT_S = 120


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    text: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.text}" + (f"; fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Place:
    """Where the run would happen: pytest's rootdir and ini values as seen from ``cwd``, the paths
    that would be given to pytest, and the models the user asks about."""

    cwd: Path
    rootdir: Path
    inifile: Path | None
    ini: dict[str, str]
    paths: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    models_file: Path | None = None
    timeout_s: float | None = None
    coordination: str | None = None  # --coordination, else the ini's llm_coordination

    @classmethod
    def find(cls, cwd: Path, paths: tuple[str, ...] = (), models: tuple[str, ...] = (),
             models_file: Path | None = None, timeout_s: float | None = None,
             coordination: str | None = None) -> Place:
        """The rootdir is the first ancestor of ``cwd`` with an ini file that configures pytest."""
        rootdir, inifile, ini = cwd, None, dict[str, str]()
        for folder in (cwd, *cwd.parents):
            found = [(folder / n, v) for n, s in _INI_FILES if (v := _ini_values(folder / n, s)) is not None]
            if found:
                rootdir, (inifile, ini) = folder, found[0]
                break
        return cls(cwd, rootdir, inifile, ini, paths, models, models_file, timeout_s,
                   coordination or ini.get("llm_coordination", "").strip() or None)


def _ini_values(path: Path, section: str | None) -> dict[str, str] | None:
    """The pytest section of ``path`` as strings, or None when the file has none."""
    if not path.is_file():
        return None
    try:
        if section is None:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
            options = table.get("ini_options") if isinstance(table, dict) else None
            return {k: str(v) for k, v in options.items()} if isinstance(options, dict) else None
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
    except (OSError, ValueError, configparser.Error):
        return None
    if parser.has_section(section):
        return dict(parser.items(section))
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None


def checks(place: Place) -> Iterator[Check]:
    """Every check, in the order a first run meets them."""
    steps: list[Callable[[Place], Iterator[Check]]] = [
        _versions, _backends, _cpu, _llamacpp, _models, _shared_data, _journal, _coordination, _user_cache, _chromium,
        _sandbox]
    for step in steps:
        yield from step(place)


def main(args: argparse.Namespace) -> int:
    """Print each check as it is made, then the counts; 1 when a check failed."""
    from _pytest._io import TerminalWriter

    writer = TerminalWriter(sys.stdout)
    place = Place.find(Path.cwd(), paths=tuple(args.paths), models=tuple(args.model), models_file=args.models_file,
                       timeout_s=args.timeout, coordination=args.coordination)
    counts = {OK: 0, WARN: 0, FAIL: 0}
    for check in checks(place):
        counts[check.status] += 1
        writer.line(check.line(), green=check.status == OK, yellow=check.status == WARN,
                    red=check.status == FAIL, bold=check.status == FAIL)
    warnings = f"{counts[WARN]} warning" + ("" if counts[WARN] == 1 else "s")
    writer.line(f"doctor: {counts[FAIL]} failed, {warnings}, {counts[OK]} ok", bold=True)
    return 1 if counts[FAIL] else 0


# -- the checks ---------------------------------------------------------------------------------

def _versions(place: Place) -> Iterator[Check]:
    found = {name: _version(name) for name in ("pytest", "pytest-xdist", "pytest-llmeval")}
    text = f"Python {platform.python_version()}, " + ", ".join(f"{n} {v or 'missing'}" for n, v in found.items())
    missing = [n for n, v in found.items() if v is None]
    if sys.version_info < (3, 11):
        yield Check(FAIL, "versions", text, "use Python 3.11 or later")
    elif missing:
        yield Check(FAIL, "versions", text, f"pip install {' '.join(missing)}")
    else:
        yield Check(OK, "versions", text)


def _backends(place: Place) -> Iterator[Check]:
    for name, module in (("openai", "openai"), ("http", "httpx2")):  # module = distribution name
        yield _imported(name, module)
    if importlib.util.find_spec("llama_cpp") is None:
        from .backends.llamacpp_probe import INSTALL_LLAMACPP

        yield Check(WARN, "backend llamacpp", "llama-cpp-python is not installed: no offline default model",
                    INSTALL_LLAMACPP)
    else:
        yield Check(OK, "backend llamacpp", f"llama-cpp-python {_version('llama-cpp-python') or '?'} installed "
                                            "(imported in a child process below)")
    yield _hf_stack()
    yield from _entry_points()


def _imported(name: str, module: str) -> Check:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the import is the diagnosis
        return Check(FAIL, f"backend {name}", f"import {module} failed: {one_line(exc)}",
                     f"pip install --force-reinstall {module}")
    return Check(OK, f"backend {name}", f"{module} {_version(module) or '?'}")


def _hf_stack() -> Check:
    """torch, transformers, accelerate and gguf, imported in a child (seconds, and a broken torch
    install can take the process down)."""
    if any(importlib.util.find_spec(m) is None for m in _HF_STACK):
        absent = [m for m in _HF_STACK if importlib.util.find_spec(m) is None]
        return Check(WARN, "backend hf", f"not installed: {', '.join(absent)} (optional)",
                     "pip install torch (the build for your machine), then pip install 'pytest-llmeval[hf]'")
    code = f"import {', '.join(_HF_STACK)}"
    done = _child([sys.executable, "-c", code], _IMPORT_TIMEOUT_S)
    if done is None or done.returncode != 0:
        why = "timed out" if done is None else (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Check(FAIL, "backend hf", f"{code} failed: {why}",
                     "pip install --force-reinstall torch transformers accelerate gguf")
    versions = ", ".join(f"{m} {_version(m) or '?'}" for m in _HF_STACK)
    return Check(OK, "backend hf", versions)


def _entry_points() -> Iterator[Check]:
    from .backends.registry import ENTRY_POINT_GROUP, entry_point_class
    from .errors import ConfigError

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point_class(ep)  # as a run resolves it: loaded, and a Backend
        except ConfigError as exc:
            yield Check(FAIL, f"backend {ep.name}", exc.detail,
                        f"reinstall the package that provides {ep.value.split(':')[0]}")
        else:
            yield Check(OK, f"backend {ep.name}", f"entry point {ep.value}")


def _cpu(place: Place) -> Iterator[Check]:
    machine = cpu()
    flags = " ".join(f.upper() for f in machine.features) or "flags unknown"
    text = f"{machine.summary}, {machine.level or 'level unknown'}: {flags}; AMX: {'yes' if machine.amx else 'no'}"
    if machine.x86 and machine.flags and "avx2" not in machine.flags:
        from .backends.llamacpp_probe import reinstall_command

        yield Check(WARN, "cpu", f"{text} (no AVX2: the portable llama.cpp build does not run here)",
                    reinstall_command(_version("llama-cpp-python") or "", machine))
    else:
        yield Check(OK, "cpu", text)


def _llamacpp(place: Place) -> Iterator[Check]:
    """The build's instruction sets against this CPU's, then the bundled model loaded and asked
    in a child process, afresh (the verdict the plugin remembers is renewed)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return
    from .backends.bundled import bundled_model_path
    from .backends.llamacpp import DEFAULT_N_CTX, default_threads
    from .backends.llamacpp_probe import PROBE_TIMEOUT_S, check_build
    from .errors import ConfigError

    try:
        model = bundled_model_path()
    except ConfigError as exc:
        yield Check(FAIL, "bundled model", str(exc))
        return
    verdict = check_build(model, DEFAULT_N_CTX, default_threads(), timeout_s=place.timeout_s or PROBE_TIMEOUT_S,
                          fresh=True)
    yield _build_line(verdict.version, verdict.system_info, answered=verdict.ok)
    if verdict.ok:
        yield Check(OK, "bundled model", f"{model.name} loaded in {verdict.load_s:.1f} s and answered in "
                    f"{verdict.decode_s:.1f} s in a child process ({verdict.seconds:.1f} s in all)")
    else:
        yield Check(FAIL, "bundled model", verdict.message)


def _build_line(version: str, system_info: str, *, answered: bool) -> Check:
    from .backends.llamacpp_probe import (PORTABLE_CMAKE_ARGS, PORTABLE_FEATURES, build_features, instruction_sets,
                                          missing_instructions, reinstall_command)

    machine = cpu()
    name = f"llama-cpp-python {version or _version('llama-cpp-python') or '?'}"
    fix = reinstall_command(version, machine)
    if not system_info:
        return Check(WARN, "llama.cpp build", f"{name}: its instruction sets are unknown (the child stopped first)")
    features = build_features(system_info)
    text = f"{name} built for {' '.join(features)}"
    missing = missing_instructions(system_info, machine)
    if missing:  # code built for them dies with SIGILL here, on whichever path first runs it
        return Check(WARN if answered else FAIL, "llama.cpp build",
                     f"{text}; this CPU lacks {' '.join(missing)}, so it can die with SIGILL here", fix)
    if "AMX_INT8" in features and machine.amx:
        return Check(WARN, "llama.cpp build", f"{text}: its AMX kernels crash on this CPU (ggml-org/llama.cpp#20824), "
                                              "so models load without llama.cpp's extra buffer types", fix)
    native = [f for f in instruction_sets(system_info) if f not in PORTABLE_FEATURES]
    if native and machine.x86:
        return Check(WARN, "llama.cpp build", f"{text}: built for this CPU generation ({' '.join(native)}), so a "
                                              f"wheel cache or image shared with other machines may crash there; "
                                              f"the portable build is CMAKE_ARGS=\"{PORTABLE_CMAKE_ARGS}\"", fix)
    return Check(OK, "llama.cpp build", text + (" (portable: x86-64-v3)" if machine.x86 else ""))


def _models(place: Place) -> Iterator[Check]:
    """The models a run would use (``--model``, else the profiles' default) and every profile's key
    variable: set or not, never its value."""
    from .errors import ConfigError
    from .profile_files import find_profile_files
    from .profiles import BUILTIN_PROFILES, load_profiles

    files = [place.models_file] if place.models_file else find_profile_files(
        place.inifile, place.rootdir, list(place.paths), place.cwd)
    try:
        profiles, default = load_profiles(files)
    except ConfigError as exc:
        yield Check(FAIL, "profiles", str(exc), "correct the file (README: Models)")
        return
    wanted = list(place.models) or [default or "smollm2"]
    where = ", ".join(str(_shown(f, place.cwd)) for f in files) or "built-in profiles only"
    yield Check(OK, "models", f"{', '.join(wanted)} ({where})")
    own = {name for name, profile in profiles.items() if BUILTIN_PROFILES.get(name) is not profile}
    for name in sorted(set(wanted) | own):
        variable = profiles[name].api_key_env if name in profiles else None
        if variable:
            yield _key(name, variable, wanted=name in wanted)
    yield from _builtin_keys({n: p.api_key_env for n, p in profiles.items() if n not in own and n not in wanted})


def _key(name: str, variable: str, *, wanted: bool) -> Check:
    if os.environ.get(variable):
        return Check(OK, f"key {variable}", f"set (profile {name})")
    status = FAIL if wanted else WARN
    return Check(status, f"key {variable}", f"not set (profile {name})",
                 f"export {variable}=... before --llm-model={name}")


def _builtin_keys(variables: dict[str, str | None]) -> Iterator[Check]:
    keyed = {name: v for name, v in variables.items() if v}
    if not keyed:
        return
    ready = [f"{n} ({v})" for n, v in keyed.items() if os.environ.get(v)]
    idle = [f"{n} ({v})" for n, v in keyed.items() if not os.environ.get(v)]
    text = "; ".join(part for part in (f"set: {', '.join(ready)}" if ready else "",
                                       f"not set: {', '.join(idle)} (export one to use that profile)" if idle else "")
                     if part)
    yield Check(OK, "keys of built-in profiles", text)


def _shared_data(place: Place) -> Iterator[Check]:
    """The real benchmark files the project's tests read (``tests/_shared_data.py``)."""
    folder = Path(os.environ.get("LLMEVAL_SHARED_DATA") or place.rootdir.parent / "shared" / "data")
    if folder.is_dir():
        kinds = sorted(p.name for p in folder.iterdir() if p.is_dir())
        yield Check(OK, "shared data", f"{folder} ({', '.join(kinds) or 'empty'})")
        return
    yield Check(FAIL if _in_ci() else WARN, "shared data",
                f"{folder} not found: the tests that read MMLU, CMMLU, C-Eval and GSM8K skip"
                + (", and fail under CI=true" if _in_ci() else ""), "set LLMEVAL_SHARED_DATA to the folder")


def _journal(place: Place) -> Iterator[Check]:
    """The reply journal a run in this project writes (``--llm-cache``; ini ``llm_cache``)."""
    setting = place.ini.get("llm_cache", "").strip()
    if setting == "off":
        yield Check(OK, "journal", f"off (llm_cache = off in {place.inifile})")
        return
    if setting and setting not in ("on", "refresh", "clear"):
        path = Path(setting) if Path(setting).is_absolute() else place.cwd / setting
    else:
        path = place.rootdir / place.ini.get("cache_dir", ".pytest_cache") / "d" / "llmeval" / "replies.sqlite3"
    yield _journal_state(path, place.cwd)


def _journal_state(path: Path, cwd: Path) -> Check:
    shown, fix = _shown(path, cwd), "--llm-cache=PATH (or llm_cache in the ini file) naming a file you can write"
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                count = db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
        except sqlite3.Error as exc:
            return Check(FAIL, "journal", f"{shown} cannot be read: {detail(exc)}", "--llm-cache=clear starts it afresh")
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        return Check(OK if writable else FAIL, "journal", f"{shown}: {count} replies, "
                     + ("writable" if writable else "read-only: a run cannot record replies"), "" if writable else fix)
    folder = _existing_ancestor(path.parent)
    if folder.is_dir() and os.access(folder, os.W_OK):
        return Check(OK, "journal", f"{shown}: not written yet, {_shown(folder, cwd)} is writable")
    return Check(FAIL, "journal", f"{shown} cannot be created ({_shown(folder, cwd)} is not a writable folder)", fix)


def _coordination(place: Place) -> Iterator[Check]:
    """The coordination server (``--llm-coordination``), reached as a run would: only when named."""
    if place.coordination is None:
        return
    from .engine.redis_state import RedisState, shown_url
    from .errors import BackendError, ConfigError

    fix = "check the URL, its password (or the ${VAR} holding it) and that the server is up"
    try:
        state = RedisState(place.coordination, "doctor")
    except ConfigError as exc:
        yield Check(FAIL, "coordination", exc.detail, fix)
        return
    try:
        state.check()
        yield Check(OK, "coordination", f"{shown_url(place.coordination)}: Redis {state.server_version()}")
    except (ConfigError, BackendError) as exc:
        yield Check(FAIL, "coordination", getattr(exc, "detail", str(exc)), fix)
    finally:
        state.close()


def _user_cache(place: Place) -> Iterator[Check]:
    folder = user_cache_dir()
    base = _existing_ancestor(folder)
    if base.is_dir() and os.access(base, os.W_OK):
        yield Check(OK, "user cache", f"{folder} (verdicts on builds, converted models): writable")
    else:
        yield Check(WARN, "user cache", f"{folder} cannot be written: verdicts on builds go to a temporary "
                    "folder, and converted models are not kept", "set XDG_CACHE_HOME to a writable folder")


def _chromium(place: Place) -> Iterator[Check]:
    """Debian's Chromium, which the report.html tests drive through playwright (``tests/browser.py``)."""
    executable = Path(os.environ.get("LLMEVAL_CHROMIUM") or "/usr/bin/chromium")
    status = FAIL if _in_ci() else WARN
    after = "skip" + (", and fail under CI=true" if _in_ci() else "")
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        yield Check(status, "chromium", f"{executable} not found: the report.html browser tests {after}",
                    "apt-get install -y chromium chromium-driver (or set LLMEVAL_CHROMIUM)")
        return
    done = _child([str(executable), "--version"], 60)
    version = done.stdout.strip() if done is not None and done.returncode == 0 else "version unknown"
    if importlib.util.find_spec("playwright") is None:
        yield Check(status, "chromium", f"{version} ({executable}), but playwright is missing: the browser "
                                        f"tests {after}", "pip install -e '.[test]'")
        return
    yield Check(OK, "chromium", f"{version} ({executable}), playwright {_version('playwright') or '?'}")


def _sandbox(place: Place) -> Iterator[Check]:
    """bubblewrap, which runs model-written code (``sandbox.py``): a trivial program is run in it,
    as the sandbox's own check does, so the line is what a code evaluation would meet."""
    from .sandbox import sandbox_status

    problem = sandbox_status()
    if problem is None:
        done = _child(["bwrap", "--version"], 60)
        version = done.stdout.strip() if done is not None and done.returncode == 0 else "bubblewrap"
        yield Check(OK, "sandbox", f"{version}: model-written code runs as nobody, without network")
        return
    after = "skip" + (", and fail under CI=true" if _in_ci() else "")
    yield Check(FAIL if _in_ci() else WARN, "sandbox", f"model-written code cannot be run, and the sandbox tests "
                f"{after}: {problem}")  # the problem's own line says what to install or allow


# -- helpers ------------------------------------------------------------------------------------

def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _child(command: list[str], timeout_s: float) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, OSError):
        return None


def _existing_ancestor(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return path


def _shown(path: Path, cwd: Path) -> Path:
    """Relative to where the command runs when inside it, else as it is."""
    try:
        relative = path.relative_to(cwd)
    except ValueError:
        return path
    return relative if relative.parts else path


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}

