"""Issue 4, benchmark 3: collecting the whole MMLU test split (14,042 items, 57 subjects).

What is measured, and why: ``pytest --co``, ``-k anatomy`` and every xdist worker collect the
whole suite before anything runs, so collection time and memory are paid on every run, even one
that evaluates a single subject. This times ``pytest SUITE --co -q`` as a whole process, with its
peak resident memory (``ru_maxrss`` of the waited child) and CPU time (user + sys, which moves
less than wall time on a shared machine), on a generated suite over the real MMLU files in
``shared/data/mmlu`` (format ``mmlu``, split ``test``, 5-shot from ``dev`` by default, the usual
MMLU set-up; ``--few-shot 0`` for zero-shot).

Targets (issue 4): wall <= 3 s, peak RSS <= 300 MB; the output lists 14,042 items.

    python benchmarks/mmlu_collect.py                 # 5-shot, 3 runs
    python benchmarks/mmlu_collect.py --few-shot 0 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LLMEVAL_SHARED_DATA") or ROOT.parent / "shared" / "data") / "mmlu"
PROMPT = ("The following are multiple choice questions (with answers) about {subject}.\\n\\n"
          "{question}\\n{choices}\\nAnswer:")


def collect_once(work: Path) -> tuple[float, float, float, int, int]:
    """Wall and CPU seconds, peak RSS (MB), exit status and items listed, of one ``pytest --co``.
    Each run is a fresh child of a fresh ``python -c`` wrapper, so ru_maxrss is this run's alone."""
    wrapper = ("import resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
               "wall = time.perf_counter() - t\n"
               "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "rss, cpu = use.ru_maxrss / 1024, use.ru_utime + use.ru_stime\n"
               "items = sum('::' in line for line in p.stdout.splitlines())\n"
               "print(wall, cpu, rss, p.returncode, items)\n")
    cmd = [sys.executable, "-m", "pytest", "mmlu.llmeval.yaml", "--co", "-q", "-p", "no:cacheprovider",
           "--llm-backend=openai", "--llm-model=bench"]
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=work, capture_output=True, text=True, check=True)
    wall, cpu, rss, rc, items = out.stdout.split()
    return float(wall), float(cpu), float(rss), int(rc), int(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--few-shot", type=int, default=5, help="few-shot examples from the dev split (0: none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "llmeval-bench" / "mmlu_collect")
    args = parser.parse_args()
    if not (DATA / "test").is_dir():
        sys.exit(f"MMLU not found in {DATA}; set LLMEVAL_SHARED_DATA")

    args.work.mkdir(parents=True, exist_ok=True)
    few_shot = f"few_shot: {{n: {args.few_shot}, split: dev}}\n" if args.few_shot else ""
    (args.work / "mmlu.llmeval.yaml").write_text(
        f"name: mmlu\ntask: multiple_choice\nmode: gen\n"
        f"data: {{format: mmlu, path: {json.dumps(str(DATA))}, split: test}}\n"
        f'prompt: "{PROMPT}"\n{few_shot}')
    print(f"MMLU test split from {DATA}, {args.few_shot}-shot; suite in {args.work}")
    print("command: python -m pytest mmlu.llmeval.yaml --co -q -p no:cacheprovider --llm-backend=openai --llm-model=bench")
    for run in range(1, args.runs + 1):
        wall, cpu, rss, rc, items = collect_once(args.work)
        print(f"[{run}] wall {wall:.2f} s (target <= 3)  cpu {cpu:.2f} s  peak RSS {rss:.0f} MB (target <= 300)  rc {rc}  "
              f"items {items}  (load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
