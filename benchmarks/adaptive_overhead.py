"""Issue 16 item 1: what ``--llm-concurrency auto`` costs per request, against a zero-latency server.

Each request under ``auto`` changes the endpoint's shared record twice (a slot taken, a slot given
back: ``engine/concurrency.py``), plus a point of the curve now and then. Against a server that
answers at once, that bookkeeping is all the difference between ``auto`` and a fixed number, so
the script sends the same N requests through the engine's ``Dispatcher`` (the real openai backend,
no journal) both ways, alternating, and prints the wall and CPU time per request and their ratio:

- fixed: ``concurrency=8``;
- auto: ``AdaptiveConcurrency`` on a ``FileState`` in a fresh folder (what one process of a run
  uses), ceiling 256.

It also times the two updates alone (acquire + release, one thread), which is the floor of the cost.

    python benchmarks/adaptive_overhead.py
    python benchmarks/adaptive_overhead.py --requests 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_vs_lm_eval import LoopbackServer  # noqa: E402 - the benchmark's server, beside this file

from pytest_llmeval.backends.base import BackendSettings  # noqa: E402
from pytest_llmeval.backends.registry import create_backend, resolve_backend_class  # noqa: E402
from pytest_llmeval.engine.concurrency import CEILING, AdaptiveConcurrency, concurrency_record  # noqa: E402
from pytest_llmeval.engine.dispatch import Dispatcher  # noqa: E402
from pytest_llmeval.engine.retry import RetryPolicy  # noqa: E402
from pytest_llmeval.engine.shared_state import FileState  # noqa: E402
from pytest_llmeval.messages import GenerateRequest  # noqa: E402


def one_run(base_url: str, n: int, auto: bool, tag: str) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process) for ``n`` requests through one dispatcher, and the
    adaptive limit at the end (8 when fixed)."""
    settings = BackendSettings(backend="openai", model="bench", base_url=base_url, api_key_env=None, timeout_s=30,
                               retries=2, max_tokens=16, temperature=0.0)
    adaptive = None
    if auto:
        adaptive = AdaptiveConcurrency(FileState(Path(tempfile.mkdtemp(prefix="llmeval-adaptive-"))),
                                       concurrency_record("bench"), lease_s=60.0)
    dispatcher = Dispatcher("bench", settings, lambda: create_backend(settings), lambda: resolve_backend_class("openai"),
                            store=None, limiter=None, policy=RetryPolicy(retries=2),
                            concurrency=CEILING if auto else 8, batch_size=1, on_fatal=print, adaptive=adaptive)
    wall, cpu = time.perf_counter(), time.process_time()
    futures = [dispatcher.submit(GenerateRequest(messages=({"role": "user", "content": f"{tag} {i}"},),
                                                 max_tokens=16, temperature=0.0, stop=())) for i in range(n)]
    errors = sum(f.result().error is not None for f in futures)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    dispatcher.close()
    assert errors == 0, f"{errors} errors"
    return wall, cpu, adaptive.limit if adaptive is not None else 8


def updates_alone(n: int) -> float:
    """Microseconds per acquire + release on a FileState, one thread."""
    limiter = AdaptiveConcurrency(FileState(Path(tempfile.mkdtemp(prefix="llmeval-adaptive-"))),
                                  concurrency_record("bench"), lease_s=60.0)
    stop = threading.Event()
    started = time.perf_counter()
    for _ in range(n):
        ticket = limiter.acquire(stop)
        assert ticket is not None
        limiter.release(ticket, 0.001)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = args.requests
    print(f"acquire + release alone: {updates_alone(5000):.0f} us per request (one thread, FileState)")
    with LoopbackServer({}) as server:
        one_run(server.base_url, 200, False, "warm")  # imports and the first connection, not timed
        for round_ in range(1, args.rounds + 1):
            fixed = one_run(server.base_url, n, False, f"f{round_}")
            auto = one_run(server.base_url, n, True, f"a{round_}")
            print(f"[{round_}] fixed 8: wall {fixed[0] / n * 1e6:5.0f} us/request, cpu {fixed[1] / n * 1e6:5.0f} us | "
                  f"auto: wall {auto[0] / n * 1e6:5.0f} us/request, cpu {auto[1] / n * 1e6:5.0f} us | "
                  f"auto / fixed: wall {auto[0] / fixed[0]:.2f}, cpu {auto[1] / fixed[1]:.2f}, "
                  f"auto's limit at the end {auto[2]} "
                  f"(load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
