"""Issue 17: what the bubblewrap sandbox costs per execution, against a plain subprocess.

What is measured, and why: code-generation suites run one program per reply, so the sandbox's
start-up is paid per sample, and executions must keep up while requests are sent. Both sides go
through ``run_python`` with the same launcher, limits and tests; the only difference is bwrap
(``unsafe=False``) or a plain subprocess (``unsafe=True``):

1. start-up: an empty program (``pass``), one execution at a time; the median and 90th
   percentile of ``Execution.duration_s`` (spawn to exit, as the caller sees it);
2. throughput: HumanEval's 164 canonical solutions as check programs, on a thread pool of one
   worker per core (as part B will run them): executions per second.

Rounds alternate sandbox and plain, so a change in the machine's load hits both; the 1-minute
load average is printed beside each figure (above the core count means queueing for CPU).

    python benchmarks/sandbox_speed.py
    python benchmarks/sandbox_speed.py --rounds 5 --startup 100 --workers 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_llmeval.data.humaneval import read_humaneval  # noqa: E402
from pytest_llmeval.sandbox import Execution, run_python, sandbox_status  # noqa: E402
from pytest_llmeval.scoring.code import check_program, code_from_reply  # noqa: E402

DATA = Path(os.environ.get("LLMEVAL_SHARED_DATA") or ROOT.parent / "shared" / "data") / "humaneval" / "HumanEval.jsonl.gz"
SIDES = {"sandbox": False, "plain": True}


def startup(unsafe: bool, n: int) -> tuple[float, float]:
    """Median and p90 seconds of ``n`` sequential empty executions."""
    durations = sorted(_checked(run_python("pass\n", unsafe=unsafe)).duration_s for _ in range(n))
    return statistics.median(durations), durations[int(0.9 * (n - 1))]


def throughput(programs: list[str], unsafe: bool, workers: int) -> float:
    """Executions per second over ``programs`` on ``workers`` threads; every one must pass."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for execution in pool.map(lambda p: run_python(p, unsafe=unsafe), programs):
            _checked(execution)
    return len(programs) / (time.perf_counter() - started)


def _checked(execution: Execution) -> Execution:
    if not execution.passed:
        raise SystemExit(f"a benchmark program did not pass: {execution.status}: {execution.reason}")
    return execution


def canonical_programs() -> list[str]:
    problems = read_humaneval(DATA)
    return [check_program(code_from_reply(p.prompt, p.canonical_solution or "", p.entry_point), p.test,
                          p.entry_point) for p in problems]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--startup", type=int, default=50, help="empty executions per side and round")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    problem = sandbox_status()
    if problem:
        raise SystemExit(f"no sandbox here: {problem}")
    programs = canonical_programs()
    print(f"{len(os.sched_getaffinity(0))} cores, {args.workers} workers, {len(programs)} HumanEval programs, "
          f"{args.startup} empty executions per start-up figure")
    print("round  side     start-up median  p90       load | 164 programs   exec/s   load")
    for round_ in range(1, args.rounds + 1):
        for side, unsafe in SIDES.items():
            median, p90 = startup(unsafe, args.startup)
            load_startup = os.getloadavg()[0]
            rate = throughput(programs, unsafe, args.workers)
            print(f"{round_:>5}  {side:<8} {median * 1000:8.1f} ms  {p90 * 1000:6.1f} ms  {load_startup:5.2f} |"
                  f" {len(programs) / rate:8.2f} s  {rate:7.1f}  {os.getloadavg()[0]:5.2f}", flush=True)


if __name__ == "__main__":
    main()
