"""A real ``redis-server`` (Debian's package) on 127.0.0.1 for the coordination tests.

``redis_server``: one server for the session, on a free port, with a password (so every test can
check the password never shows), no persistence (``--save "" --appendonly no``), stopped at the
end. Tests isolate themselves by run key or endpoint (a fresh loopback port), never by flushing.
Without the binary the tests that use it skip with the reason, except under ``CI=true`` (CI
installs it in ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

__all__ = ["RedisServer", "free_port", "redis_server", "running_redis"]

BINARY = "redis-server"


@dataclass(frozen=True)
class RedisServer:
    port: int
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A server of its own (a test that stops it mid-run); skips or fails as the module says."""
    binary = shutil.which(BINARY) or (f"/usr/bin/{BINARY}" if os.path.exists(f"/usr/bin/{BINARY}") else None)
    if binary is None:
        why = "no redis-server here (apt-get install redis-server)"
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)
    server = RedisServer(port=free_port(), password=f"pw-{secrets.token_hex(12)}")
    folder = tempfile.mkdtemp(prefix="llmeval-redis-")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(server.port), "--requirepass", server.password,
         "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(server: RedisServer, process: subprocess.Popen[bytes]) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=server.port, password=server.password)
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on 127.0.0.1:{server.port}") from None
                time.sleep(0.05)
    finally:
        client.close()
