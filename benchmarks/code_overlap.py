"""Issue 17 part B: do executions of model-written code run beside the requests, or after them?

A code suite of N problems is run through the whole plugin (a pytest subprocess) against the
scripted backend, each reply arriving after ``--reply-s`` (requests ``--concurrency`` at a time),
each reply's program sleeping ``--exec-s`` in the sandbox before its tests. Compared with the two
ways the same work could be arranged without the execution pool:

- serial: every request answered, then every execution one after another (N x exec-s on top);
- ideal: requests and executions overlapped, executions one per core.

The ratio ``measured / serial`` is what the pool saves; ``measured / ideal`` what it leaves.
Start-up (pytest, collection, the sandbox check) is measured apart by a run with no sleeps and
subtracted, so the ratios are about the samples.

    python benchmarks/code_overlap.py --problems 16 --exec-s 0.5 --reply-s 0.25
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _suite(folder: Path, problems: int, exec_s: float, reply_s: float) -> None:
    rows, replies = [], {}
    for i in range(problems):
        prompt = f"def f{i}(x):\n"
        rows.append({"task_id": f"B/{i}", "prompt": prompt, "entry_point": f"f{i}",
                     "test": f"import time\n\ndef check(f):\n    time.sleep({exec_s})\n    assert f(1) == 2\n"})
        replies[prompt] = {"delay_s": reply_s, "then": "    return x + 1\n"} if reply_s else "    return x + 1\n"
    (folder / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "bench.llmeval.yaml").write_text(
        "task: code\ndata: {format: humaneval, path: problems.jsonl}\nprompt: '{prompt}'\n", encoding="utf-8")
    profile = {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": replies}}
    (folder / "llm_models.yaml").write_text(json.dumps({"models": {"bench": profile}}), encoding="utf-8")


def _run(problems: int, exec_s: float, reply_s: float, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _suite(folder, problems, exec_s, reply_s)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--llm-model=bench",
                               "--llm-cache=off", f"--llm-concurrency={concurrency}", "bench.llmeval.yaml"],
                              cwd=folder, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stdout[-2000:])
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--exec-s", type=float, default=0.5)
    parser.add_argument("--reply-s", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    base = _run(args.problems, 0.0, 0.0, args.concurrency)
    measured = _run(args.problems, args.exec_s, args.reply_s, args.concurrency) - base
    requests = args.problems * args.reply_s / args.concurrency
    executions = args.problems * args.exec_s
    serial, ideal = requests + executions, max(requests, executions / cores)
    print(f"{args.problems} problems, replies {args.reply_s:g} s ({args.concurrency} at a time), executions "
          f"{args.exec_s:g} s, {cores} cores, load {os.getloadavg()[0]:.1f}; start-up {base:.2f} s subtracted")
    print(f"measured {measured:.2f} s; serial {serial:.2f} s (ratio {measured / serial:.2f}); "
          f"ideal {ideal:.2f} s (ratio {measured / ideal:.2f})")


if __name__ == "__main__":
    main()
