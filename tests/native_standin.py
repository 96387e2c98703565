"""A stand-in ``llama_cpp`` package that dies the way a broken native build does, so the crash path
runs on every machine: this one has no AMX, and a real build that crashes on purpose would cost
minutes of compiling.

``standin_path(folder)`` writes the package and returns the folder to put first on ``PYTHONPATH``
(of a pytester subprocess run, or of a child process), ahead of the real llama-cpp-python. It
kills its own process with a real signal (``os.kill``), exactly where a native crash would come
from, so faulthandler, the exit status and xdist see what they see on a crashing AMX build.
Its behaviour comes from the environment of the process that imports it:

- ``STANDIN_CRASH_AT``: ``import``, ``load`` or ``decode`` (any decode: the probe's and the run's);
- ``STANDIN_CRASH_ON``: a text that crashes a chat completion whose last message contains it
  (the probe's plain completion never does: a crash after the probe passed);
- ``STANDIN_SIGNAL``: the signal to die of (default ``SIGSEGV``);
- ``STANDIN_HANG_AT``: ``load`` or ``decode``: sleep there instead;
- ``STANDIN_RAISE_AT``: ``load``: raise a Python error there (a file llama.cpp cannot read);
- ``STANDIN_LOAD_S``: seconds a load takes (to widen a race between processes);
- ``STANDIN_LOG``: a file that gets one line per load: ``<pid> <probe|run> extra_bufts=<bool>``;
- ``STANDIN_SYSTEM_INFO``: what ``llama_print_system_info()`` says.

Replies are ``STANDIN_REPLY`` (default ``ok``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["standin_path"]

_INIT = '''
"""Stand-in llama_cpp (tests/native_standin.py)."""
import os
import signal
import sys
import time

from . import llama_cpp as _low

__version__ = "0.3.36"


def _die(stage):
    if os.environ.get("STANDIN_RAISE_AT") == stage:
        raise ValueError(f"stand-in {stage} error")
    if os.environ.get("STANDIN_HANG_AT") == stage:
        time.sleep(3600)
    if os.environ.get("STANDIN_CRASH_AT") == stage:
        os.kill(os.getpid(), getattr(signal, os.environ.get("STANDIN_SIGNAL", "SIGSEGV")))
        time.sleep(60)  # a signal that does not kill (never expected): do not go on as if alive


_die("import")


def llama_print_system_info():
    info = os.environ.get("STANDIN_SYSTEM_INFO", "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | "
                                                 "FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")
    return info.encode()


class Llama:
    def __init__(self, model_path, n_ctx=512, **kwargs):
        time.sleep(float(os.environ.get("STANDIN_LOAD_S", "0")))
        _die("load")
        self._n_ctx = n_ctx
        log = os.environ.get("STANDIN_LOG")
        if log:
            role = "probe" if "llamacpp_probe" in " ".join(sys.argv) else "run"
            extra = _low.llama_model_default_params().use_extra_bufts
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {role} extra_bufts={bool(extra)}\\n")

    def n_ctx(self):
        return self._n_ctx

    def reset(self):
        pass

    def close(self):
        pass

    def create_completion(self, prompt, max_tokens=16, **kwargs):
        _die("decode")
        return {"choices": [{"text": " Paris", "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1}}

    def create_chat_completion(self, messages, max_tokens=16, **kwargs):
        _die("decode")
        trigger = os.environ.get("STANDIN_CRASH_ON")
        if trigger and trigger in messages[-1]["content"]:
            os.kill(os.getpid(), getattr(signal, os.environ.get("STANDIN_SIGNAL", "SIGSEGV")))
            time.sleep(60)
        reply = os.environ.get("STANDIN_REPLY", "ok")
        return {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
'''

_LOW = '''
"""Stand-in llama_cpp.llama_cpp: the model parameters, as ctypes, like the real one."""
import ctypes


class llama_model_params(ctypes.Structure):
    _fields_ = [("n_gpu_layers", ctypes.c_int32), ("use_extra_bufts", ctypes.c_bool), ("no_host", ctypes.c_bool)]


def llama_model_default_params():
    return llama_model_params(0, True, False)
'''


def standin_path(folder: Path) -> Path:
    """Write the stand-in package under ``folder``; the folder to put first on PYTHONPATH."""
    package = folder / "llama_cpp"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_INIT.lstrip(), encoding="utf-8")
    (package / "llama_cpp.py").write_text(_LOW.lstrip(), encoding="utf-8")
    return folder
