"""What a shared-record update costs on the coordination server (``--llm-coordination``, Redis)
against the default files, and how often the optimistic transaction is tried again under
contention. Run: ``python benchmarks/coordination_store.py`` (needs ``redis-server`` on PATH or in
/usr/bin; it starts one on 127.0.0.1 and stops it).

Each cell: P processes (spawned) each make N updates of ONE record (the worst case: every update
races every other), the same increment the store tests use. Reported: updates/s in all, the mean
time per update seen by one process, and the change function's calls per update (1.0 = never
retried; the files' flock never retries).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_llmeval.engine.redis_state import RedisState  # noqa: E402
from pytest_llmeval.engine.shared_state import FileState, SharedState  # noqa: E402


def _open(kind: str, place: str, key: str) -> SharedState:
    return FileState(Path(place)) if kind == "file" else RedisState(place, key)


def _worker(kind: str, place: str, key: str, n: int, start: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = _open(kind, place, key)
    calls = 0

    def increment(raw: bytes | None, now: float) -> tuple[bytes, None]:
        nonlocal calls
        calls += 1
        return str(int(raw or b"0") + 1).encode(), None

    store.update("warm", increment)
    calls = 0
    while time.time() < start:
        time.sleep(0.001)
    began = time.perf_counter()
    for _ in range(n):
        store.update("counter", increment)
    out.put((time.perf_counter() - began, calls))
    store.close()


def cell(kind: str, place: str, processes: int, n: int) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    key, start = uuid.uuid4().hex, time.time() + 2.0
    place = str(Path(place) / key) if kind == "file" else place  # a fresh record for each cell
    children = [context.Process(target=_worker, args=(kind, place, key, n, start, out)) for _ in range(processes)]
    for child in children:
        child.start()
    results = [out.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    final = _open(kind, place, key).read("counter")
    assert final == str(processes * n).encode(), (final, processes * n)  # no update lost
    wall = max(t for t, _ in results)
    return processes * n / wall, sum(t for t, _ in results) / (processes * n) * 1e3, sum(c for _, c in results) / (processes * n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=2000)
    args = parser.parse_args()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="coordination-bench-")
    server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", folder], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        url = f"redis://127.0.0.1:{port}/0"
        print(f"load before: {os.getloadavg()[0]:.1f}; {args.updates} updates per process, one record")
        print("| store | processes | updates/s (all) | ms per update (one process) | change calls per update |")
        print("|---|---|---|---|---|")
        for processes in (1, 4):
            for kind, place in (("file", folder), ("redis", url)):
                rate, ms, calls = cell(kind, place, processes, args.updates)
                print(f"| {kind} | {processes} | {rate:,.0f} | {ms:.3f} | {calls:.2f} |", flush=True)
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
