"""Issue 4, benchmark 2: what the plugin costs per sample, on top of pytest itself.

What is measured, and why: against a fast endpoint the evaluation is bound by the client, and a
sample should cost little more than any other pytest item. Two whole pytest processes, both with
``-q -p no:cacheprovider``, N items each (default 10,000):

- bare: ``@pytest.mark.parametrize("i", range(N)) def test_x(i): assert i >= 0``;
- ours: a generated ``*.llmeval.yaml`` suite of N jsonl samples (``exact_match``), answered by a
  loopback OpenAI-compatible server with no delay (``--llm-backend=openai --llm-cache=off``,
  ``--llm-concurrency`` left at its default unless given).

Per-sample cost = process wall time / N; the figure is ours / bare (target <= 1.3). The CPU time
(user + sys) of each process is shown too: on a shared machine it moves less than wall time. The
server runs in this script's process, so its CPU is not counted in ours, but it does compete for
the same cores (it is aiohttp, cheap next to the client: see ``engine_vs_lm_eval.LoopbackServer``).

    python benchmarks/engine_overhead.py
    python benchmarks/engine_overhead.py --rounds 3 --concurrency 32
    python benchmarks/engine_overhead.py --profile /tmp/ours.pstats   # cProfile our run (main thread)
    python benchmarks/engine_overhead.py --client-cpu 2000            # client CPU per request, per path

``--client-cpu N`` (issue 15) first times N requests from one thread through the ``openai``
backend's ``generate``, counting that thread's CPU time (``time.thread_time``), on each path a
request can take: the raw path (the default) and the SDK path (forced by setting
``OPENAI_PROJECT_ID``, which only the SDK sends). Target: <= 0.3 ms per request.

cProfile sees only the main thread (pytest's items); the requests are sent from the engine's
worker threads, which a sampling profiler shows: ``py-spy record --gil --threads --format raw
-o ours.txt -- python -m pytest ...`` with the command this script prints.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_vs_lm_eval import LoopbackServer  # the benchmark's server, beside this file

PYTEST = ["-q", "-p", "no:cacheprovider"]


def write_inputs(work: Path, n: int) -> dict[str, str]:
    work.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"q{i}", "question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(n)]
    (work / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "bench.llmeval.yaml").write_text(
        "name: bench\ntask: exact_match\n"
        "data: {format: jsonl, path: data.jsonl, subject: arithmetic, fields: {id: id, target: answer}}\n"
        'prompt: "{question}"\ngeneration: {max_tokens: 16}\n')
    (work / "test_bare.py").write_text(
        f"import pytest\n\n\n@pytest.mark.parametrize(\"i\", range({n}))\ndef test_x(i):\n    assert i >= 0\n")
    return {r["question"]: r["answer"] for r in rows}


def timed(cmd: list[str], work: Path, log: str) -> tuple[float, float, int]:
    """Wall and CPU seconds (user + sys) of one child process, and its exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with (work / log).open("w") as out:
        rc = subprocess.run(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rc


def client_cpu(n: int) -> None:
    """CPU of the calling thread per ``generate``, on the raw path and on the SDK path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
    from pytest_llmeval.backends.openai.chat import OpenAIChatBackend

    request = GenerateRequest(({"role": "user", "content": "What is 1 plus 1?"},), 16, 0.0, ("\n",))
    with LoopbackServer({"What is 1 plus 1?": "2"}) as server:
        for path, env in (("raw", None), ("sdk", "bench-project")):
            if env:
                os.environ["OPENAI_PROJECT_ID"] = env
            backend = OpenAIChatBackend(BackendSettings(backend="openai", model="bench", base_url=server.base_url))
            for _ in range(min(200, n)):  # connect, import, warm up
                backend.generate(request)
            cpu, wall = time.thread_time(), time.perf_counter()
            for _ in range(n):
                assert backend.generate(request).text == "2"
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            backend.close()
            os.environ.pop("OPENAI_PROJECT_ID", None)
            print(f"client {path}: {cpu / n * 1e3:.3f} ms CPU per request (target <= 0.3), "
                  f"{wall / n * 1e3:.3f} ms wall  (load {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, help="--llm-concurrency (default: the plugin's)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of (bare, ours)")
    parser.add_argument("--profile", type=Path, help="run ours under cProfile, writing this .pstats file")
    parser.add_argument("--client-cpu", type=int, metavar="N", help="first time N requests per client path")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "llmeval-bench" / "engine_overhead")
    args = parser.parse_args()

    if args.client_cpu:
        client_cpu(args.client_cpu)
    n = args.samples
    replies = write_inputs(args.work, n)
    print(f"{n} items per run; logs in {args.work}")
    bare_cmd = [sys.executable, "-m", "pytest", "test_bare.py", *PYTEST]
    for round_ in range(1, args.rounds + 1):
        bare_wall, bare_cpu, bare_rc = timed(bare_cmd, args.work, "bare.log")
        print(f"[{round_}] bare: wall {bare_wall:6.2f} s = {bare_wall / n * 1e6:6.0f} us/sample  "
              f"cpu {bare_cpu:6.2f} s  rc {bare_rc}  (load {os.getloadavg()[0]:.2f})")
        with LoopbackServer(replies) as server:
            server_cpu = time.process_time()
            profile = ["-m", "cProfile", "-o", str(args.profile)] if args.profile else []
            ours_cmd = [sys.executable, *profile, "-m", "pytest", "bench.llmeval.yaml", *PYTEST,
                        "--llm-backend=openai", f"--llm-base-url={server.base_url}", "--llm-model=bench",
                        "--llm-cache=off", *([f"--llm-concurrency={args.concurrency}"] if args.concurrency else [])]
            ours_wall, ours_cpu, ours_rc = timed(ours_cmd, args.work, "ours.log")
            server_cpu, requests = time.process_time() - server_cpu, len(server.times)
        print(f"[{round_}] ours: wall {ours_wall:6.2f} s = {ours_wall / n * 1e6:6.0f} us/sample  "
              f"cpu {ours_cpu:6.2f} s  rc {ours_rc}  requests {requests}  server cpu {server_cpu:.2f} s  "
              f"(load {os.getloadavg()[0]:.2f})")
        print(f"[{round_}] ours / bare per-sample cost: wall {ours_wall / bare_wall:.2f} (target <= 1.3), "
              f"cpu {ours_cpu / bare_cpu:.2f}")
    print("commands:\n  " + " ".join(bare_cmd) + "\n  " + " ".join(ours_cmd))


if __name__ == "__main__":
    main()
