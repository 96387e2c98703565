"""Issue 12: what the data checks cost at collection, on the real MMLU test split.

Every run (and every xdist worker) builds each suite's plan before anything runs, so the checks
added by issue 12 are paid on every run: the ``csv`` module's second pass over each CSV (row
lines, short and long rows) and the data-validation pass (``suites.checks``: ids, answers,
options, template fields). This times ``build_plan`` on a 5-shot MMLU suite (14,042 samples,
57 subjects, 114 CSV files) as shipped, against a peer in the same process with both turned off
(the CSV pass returns no lines, the checks return the samples as they are), alternating, so the
ratio holds on a shared machine. CPU time (``process_time``) is reported beside wall time.

    python benchmarks/data_checks_cost.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LLMEVAL_SHARED_DATA") or ROOT.parent / "shared" / "data") / "mmlu"
SUITE = ("name: mmlu\ntask: multiple_choice\ndata: {format: mmlu, path: %s, split: test}\n"
         "prompt: \"{question}\\n{choices}\\nAnswer:\"\nfew_shot: {n: 5, split: dev}\n")


@contextmanager
def checks_off() -> Iterator[None]:
    """The peer: no CSV line pass and no validation pass (normalising answers is kept: the plan
    needs letters), as before issue 12."""
    from pytest_llmeval.data import readers
    from pytest_llmeval.scoring import normalize_choice_target
    from pytest_llmeval.suites import plan

    def answers_only(config: Any, subject: str, samples: Any, problems: Any, **_: Any) -> list[Any]:
        from dataclasses import replace

        return [replace(s, target=normalize_choice_target(s.target, s.choices, s.labels)) for s in samples]

    saved = readers._csv_lines, plan.check_samples
    readers._csv_lines = lambda *args: None  # type: ignore[assignment]
    plan.check_samples = answers_only  # type: ignore[assignment]
    try:
        yield
    finally:
        readers._csv_lines, plan.check_samples = saved


def timed(build: Callable[[], Any]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    plan = build()
    return time.perf_counter() - wall, time.process_time() - cpu, sum(len(s.samples) for s in plan.subjects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import pandas  # noqa: F401 - imported once, outside the timings, as a run imports it once

    from pytest_llmeval.suites.plan import build_plan
    from pytest_llmeval.suites.schema import SuiteConfig
    from pytest_llmeval.yamlfile import load_validated

    suite = Path("/tmp/llmeval-bench-checks/mmlu.llmeval.yaml")
    suite.parent.mkdir(parents=True, exist_ok=True)
    suite.write_text(SUITE % DATA, encoding="utf-8")
    config = load_validated(suite, SuiteConfig)

    def build() -> Any:
        return build_plan(config, suite, str(suite), None)

    timed(build)  # warm the file cache for both
    print("round  checked wall/cpu   peer wall/cpu   ratio wall/cpu   samples   load")
    for n in range(1, args.rounds + 1):
        ours = timed(build)
        with checks_off():
            peer = timed(build)
        assert ours[2] == peer[2] == 14042, (ours, peer)
        print(f"{n:5d}  {ours[0]:6.2f}/{ours[1]:5.2f} s   {peer[0]:6.2f}/{peer[1]:5.2f} s   "
              f"{ours[0] / peer[0]:5.2f}/{ours[1] / peer[1]:5.2f}   {ours[2]:7d}   {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
