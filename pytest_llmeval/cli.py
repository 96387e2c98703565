"""The ``pytest-llmeval`` command.

- ``merge``: the command line around ``merge``. Exit status as pytest's: 0 when the merged run
  passes, 1 when its verdict fails, 4 for bad input (pytest's usage error).
- ``doctor``: what a first run needs, one line per check (``doctor``); 1 when a check failed.
- ``calibrate``: a judge's verdicts against a person's on a labelled file (``calibrate``).

Each command imports its module only when it runs: the plugin never imports this one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

USAGE_ERROR = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-llmeval", description="pytest-llmeval tools")
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge the report folders of --llm-shard runs into one",
                                description="Merge the --llm-report-dir folders of a run's shards: the same "
                                            "summary, verdict and reports as one unsharded run.")
    merge.add_argument("folders", nargs="+", type=Path, help="each shard's --llm-report-dir")
    merge.add_argument("--out", type=Path, required=True, help="folder for the merged reports")
    merge.add_argument("--baseline", type=Path, help="compare against this baseline (default: the shards' own)")
    merge.add_argument("--update-baseline", action="store_true", default=None,
                       help="accept the merged run as the baseline (default file: the shards' --llm-baseline)")
    merge.add_argument("--allow-partial", action="store_true", help="merge even when some shards are missing")
    merge.add_argument("--flips", type=int, default=5, help="flipped samples shown per direction (default 5)")
    doctor = commands.add_parser(
        "doctor", help="check what a first run needs, and say how to fix what is missing",
        description="Versions, backends, CPU features, the llama.cpp build and the bundled model (in a child "
                    "process), model keys (never printed), the shared data, the journal and Chromium: one line "
                    "each, ok / warn / FAIL with the fix. Exit status 1 when a check failed.")
    doctor.add_argument("paths", nargs="*", help="the paths you would give pytest (where model profiles are found)")
    doctor.add_argument("--model", action="append", default=[], metavar="NAME",
                        help="a model you will run (as --llm-model; repeat): its key must be set")
    doctor.add_argument("--models-file", type=Path, help="model profiles file (as --llm-models-file)")
    doctor.add_argument("--timeout", type=float,
                        help="seconds the bundled model may take to load and answer (default 300)")
    doctor.add_argument("--coordination", metavar="URL",
                        help="the coordination server a run would use (as --llm-coordination; default: the ini's)")
    calibrate = commands.add_parser(
        "calibrate", help="run a judge over labelled replies: agreement, Cohen's kappa, confusion matrix",
        description="The judge grades every reply of a labelled JSON Lines file (prompt, reply, reference, and "
                    "the person's label PASS/FAIL or score 1..K) with the prompt of task: judge; its verdicts "
                    "against the person's: agreement, Cohen's kappa (quadratic weighted kappa on a scale), "
                    "the confusion matrix and the unparsed verdicts.")
    calibrate.add_argument("file", type=Path, help="labelled replies, JSON Lines")
    calibrate.add_argument("--judge", required=True, metavar="PROFILE", help="the judge's model profile")
    calibrate.add_argument("--scale", default="pass_fail",
                           help="pass_fail (default: the label field) or K, a 1..K scale (the score field)")
    calibrate.add_argument("--criterion", action="append", metavar="TEXT",
                           help="a criterion of the rubric (repeat; default: right answer, nothing false)")
    calibrate.add_argument("--rubric", type=Path, help="a YAML file with a rubric mapping (criteria, scale, levels)")
    calibrate.add_argument("--models-file", type=Path, help="model profiles file (as --llm-models-file)")
    calibrate.add_argument("--limit", type=int, help="only the first N replies")
    calibrate.add_argument("--json", type=Path, help="write the numbers and every verdict to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from .doctor import main as doctor

        return doctor(args)
    if args.command == "calibrate":
        from .calibrate import main as calibrate

        return calibrate(args)
    return _merge(args)


def _merge(args: argparse.Namespace) -> int:
    from _pytest._io import TerminalWriter

    from .merge import MergeError, merge
    from .report.document import (build_document, ordered_samples, sample_records, terminal_summary, write_report_dir,
                                  write_step_summary)
    from .report.files import SamplesWriter

    writer = TerminalWriter(sys.stdout)
    try:
        run, conclusion = merge(args.folders, args.baseline, args.update_baseline, args.allow_partial)
    except MergeError as exc:
        writer.line(f"pytest-llmeval merge: {exc}", red=True, bold=True)
        return USAGE_ERROR
    document = build_document(run, conclusion)
    samples = sample_records(conclusion)
    args.out.mkdir(parents=True, exist_ok=True)
    with SamplesWriter(args.out / "samples.jsonl") as jsonl:
        for r in ordered_samples(conclusion):
            jsonl.write(r)
    write_report_dir(args.out, document, conclusion, samples)
    write_step_summary(document, samples)
    writer.sep("=", f"llmeval summary (merged {len(args.folders)} shards): {', '.join(conclusion.summary.models)}")
    for text, markup in terminal_summary(conclusion, document, args.flips):
        writer.line(text, **markup)
    return 0 if conclusion.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
