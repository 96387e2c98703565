"""The real ``llama_cpp.server`` serving a GGUF (default: the bundled SmolLM2) on a free loopback port.

    with llama_server() as base_url:   # "http://127.0.0.1:PORT/v1", answering /v1/models
        ...
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["LlamaServerError", "llama_server"]


class LlamaServerError(RuntimeError):
    """The server died or never answered; the message ends with its stderr tail."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: IO[str], chars: int = 1500) -> str:
    log.flush()
    log.seek(0)
    text = log.read()[-chars:]
    return " | ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no output)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_ready(proc: subprocess.Popen[str], log: IO[str], url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _answers(url):
        if proc.poll() is not None:
            raise LlamaServerError(f"llama_cpp.server exited with status {proc.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise LlamaServerError(f"llama_cpp.server did not answer {url} within {timeout_s:g} s: {_tail(log)}")
        time.sleep(0.25)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def llama_server(model: Path | None = None, *, n_ctx: int = 2048, timeout_s: float = 120.0) -> Iterator[str]:
    """Start ``python -m llama_cpp.server``, yield its base URL once it answers, then stop it."""
    if model is None:
        from pytest_llmeval.backends.bundled import bundled_model_path

        model = bundled_model_path()
    from pytest_llmeval.backends.llamacpp import default_threads

    port, threads = _free_port(), str(default_threads())  # the in-process model's thread counts
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", threads, "--n_threads_batch", threads]
    base_url = f"http://127.0.0.1:{port}/v1"
    # output goes to a file, not a pipe: an unread pipe would fill up and stall the server
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_ready(proc, log, f"{base_url}/models", timeout_s)
            yield base_url
        finally:
            _stop(proc)
