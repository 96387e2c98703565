"""Issue 11: what the crash guard costs, and what its alternative would.

Before its first load of a GGUF, the plugin has a child process import llama_cpp, load the file
and decode (``backends.llamacpp_probe``); the verdict is kept per build, CPU and model, so later
runs only read it. The alternative the issue names is to isolate the model from pytest for good:
run it in a child process for every request. Both are timed here on the bundled model, in one
script, so the ratios hold on a shared machine:

- probe, first run: ``check_build(..., fresh=True)`` (spawn, import, load, decode, write the verdict);
- probe, later runs: a new process's first ``check_build`` with the verdict on disk (what every
  process of every later run pays: a few dozen ``stat`` calls and a JSON read), in milliseconds;
- one request in-process: ``create_chat_completion`` (8 tokens) on the loaded model, as the
  backend sends it;
- one request in a new child process: spawn, import, load, then the same request;
- one request through a persistent child process (the model loaded once in a server process,
  requests and replies over a pipe): the round trip against the in-process request.

Each figure is the median of ``--rounds``; the kinds take turns within each round.

    python benchmarks/native_probe.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_llmeval.backends.bundled import bundled_model_path  # noqa: E402
from pytest_llmeval.backends.llamacpp import _new_llama, default_threads  # noqa: E402

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
_CACHED = """
import sys, time
from pathlib import Path
import pytest  # a pytest process has it loaded already
started = time.perf_counter()
from pytest_llmeval.backends.llamacpp_probe import check_build
imported = time.perf_counter()
verdict = check_build(Path(sys.argv[1]), 2048, int(sys.argv[2]))
print(imported - started, time.perf_counter() - imported, verdict.cached)
"""
_ONE_REQUEST = """
import sys, time
from pathlib import Path
from pytest_llmeval.backends.llamacpp import _new_llama
llm = _new_llama(Path(sys.argv[1]), 2048, int(sys.argv[2]))
llm.create_chat_completion(messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
                           max_tokens=8, temperature=0.0, seed=0)
"""


def _ask(llm: Any) -> None:
    llm.reset()
    llm.create_chat_completion(messages=MESSAGES, max_tokens=8, temperature=0.0, seed=0)


def _serve(conn: Connection, model: str, threads: int) -> None:
    """The persistent child: the model loaded once, one request per message until None."""
    llm = _new_llama(Path(model), 2048, threads)
    conn.send("ready")
    while conn.recv() is not None:
        _ask(llm)
        conn.send("done")


def _timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    model, threads = bundled_model_path(), default_threads()
    env_cache = tempfile.mkdtemp(prefix="probe-bench-")
    import os

    os.environ["XDG_CACHE_HOME"] = env_cache  # a cache of this script's own: the first run is real
    from pytest_llmeval.backends.llamacpp_probe import check_build

    llm = _new_llama(model, 2048, threads)
    _ask(llm)  # warm
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, str(model), threads))
    server.start()
    assert parent.recv() == "ready"

    def through_server() -> None:
        parent.send("ask")
        assert parent.recv() == "done"

    through_server()  # warm
    times: dict[str, list[float]] = {k: [] for k in ("first", "import", "cached", "inproc", "spawn", "server")}
    for _ in range(args.rounds):
        times["first"].append(_timed(lambda: check_build(model, 2048, threads, fresh=True)))
        done = subprocess.run([sys.executable, "-c", _CACHED, str(model), str(threads)], capture_output=True,
                              text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        imported, seconds, cached = done.stdout.split()
        assert cached == "True"
        times["import"].append(float(imported))
        times["cached"].append(float(seconds))
        times["inproc"].append(_timed(lambda: _ask(llm)))
        times["spawn"].append(_timed(lambda: subprocess.run(
            [sys.executable, "-c", _ONE_REQUEST, str(model), str(threads)], check=True, capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})))
        times["server"].append(_timed(through_server))
    parent.send(None)
    server.join()
    median = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({k: [round(x, 4) for x in v] for k, v in times.items()}))
    print(f"\nn_threads={threads}, {args.rounds} rounds, medians\n")
    print("| what | time | × one in-process request |")
    print("|---|---|---|")
    rows = [("probe, first run (once per build, CPU and model)", "first"),
            ("probe module import, in a process that has pytest", "import"),
            ("probe, every later process (verdict read from disk)", "cached"),
            ("one request, in-process (today)", "inproc"),
            ("one request, in a new child process", "spawn"),
            ("one request, through a persistent child process", "server")]
    for label, key in rows:
        print(f"| {label} | {median[key] * 1000:.1f} ms | {median[key] / median['inproc']:.2f} |")
    overhead = median["server"] - median["inproc"]
    print(f"\npersistent child: {overhead * 1000:+.2f} ms a request; new child per request: "
          f"{(median['spawn'] - median['inproc']) * 1000:+.0f} ms a request, "
          f"{(median['spawn'] - median['inproc']) * 102:.0f} s over the 102 example samples")


if __name__ == "__main__":
    main()
