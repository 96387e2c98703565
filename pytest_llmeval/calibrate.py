"""``pytest-llmeval calibrate``: what a judge is worth, before a run gates on it.

The judge (a model profile, any backend) grades every reply of a labelled file with the prompt of
``task: judge``, through the engine (its retries, concurrency and rate limit), and its verdicts are
compared with the person's (``results.agreement``): agreement, Cohen's kappa (and the quadratic
weighted kappa on a 1..K scale), the confusion matrix, and how many verdicts were unparsed.

The file is JSON Lines, one reply a line: ``prompt`` (the question as the model was asked it),
``reply``, ``reference`` (optional) and the person's verdict: ``label`` (PASS or FAIL) for the
default pass/fail rubric, ``score`` (1..K) with ``--scale K``. The shipped set
``example_suites/data/judge_calibration.jsonl`` has both.

Exit status: 0 with the report, 4 for bad input (pytest's usage error), 1 when the judge failed.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, LLMEvalError
from .results.agreement import Calibration, calibrate
from .scoring.judge import Rubric, judge_messages, parse_verdict

if TYPE_CHECKING:
    from .engine.dispatch import Outcome

__all__ = ["DEFAULT_CRITERIA", "Labelled", "main", "read_labelled", "run_calibration"]

DEFAULT_CRITERIA = (
    "The answer gives the reference answer, stated so that it cannot be read as another.",
    "It does what the question asks, and states nothing false.",
)
USAGE_ERROR, FAILED = 4, 1


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled reply: what the judge is shown, and the person's verdict."""

    id: str
    prompt: str
    reply: str
    reference: str | None
    verdict: str


def read_labelled(path: Path, rubric: Rubric) -> list[Labelled]:
    """The labelled replies; ConfigError naming the file, line and field for anything else."""
    from .yamlfile import read_text

    lines = read_text(path, str(path)).splitlines()
    field = "label" if rubric.scale is None else "score"
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not JSON ({exc.msg})", where=where) from None
        if not isinstance(row, dict):
            raise ConfigError("expected a JSON object", where=where)
        for key in ("prompt", "reply"):
            if not isinstance(row.get(key), str):
                raise ConfigError("expected a string", where=where, key=key)
        verdict = str(row.get(field, "")).upper()
        if verdict not in rubric.values:
            raise ConfigError(f"expected one of {', '.join(rubric.values)}, got {row.get(field)!r}", where=where,
                              key=field)
        reference = row.get("reference")
        rows.append(Labelled(str(row.get("id", number)), row["prompt"], row["reply"],
                             None if reference is None else str(reference), verdict))
    if not rows:
        raise ConfigError("no labelled replies", where=str(path))
    return rows


def run_calibration(rows: Sequence[Labelled], rubric: Rubric,
                    ask: Callable[[tuple[dict[str, str], ...]], Future[Outcome]]) -> tuple[Calibration, list[dict[str, Any]]]:
    """Ask the judge about every row (``ask``: the judge's messages to its future outcome, through
    the engine), all queued at once, and compare its verdicts with the person's."""
    futures = [ask(judge_messages(rubric, r.prompt, r.reply, r.reference)) for r in rows]
    verdicts: list[str | None] = []
    records = []
    for row, future in zip(rows, futures):
        outcome = future.result()
        if outcome.error is not None:
            raise outcome.error
        text = outcome.reply.text if outcome.reply is not None else ""
        verdict = parse_verdict(text, rubric) if outcome.reply is not None else None
        value = verdict.value if verdict is not None else None
        verdicts.append(value)
        records.append({"id": row.id, "human": row.verdict, "judge": value, "judge_reply": text,
                        "problem": verdict.problem if verdict is not None else f"refused: {outcome.rejected}"})
    result = calibrate([r.verdict for r in rows], verdicts, rubric.values, ordinal=rubric.scale is not None)
    return result, records


def report_lines(result: Calibration, judge: str, rubric: Rubric) -> list[str]:
    """The report as the terminal shows it."""
    width = max(len(v) for v in (*result.labels, "unparsed"))
    lines = [f"judge {judge} on {result.n} labelled replies ({'pass/fail' if rubric.scale is None else f'1..{rubric.scale}'})",
             f"agreement     {result.agreement:.3f}",
             f"Cohen's kappa {_number(result.kappa)}"]
    if result.weighted_kappa is not None:
        lines.append(f"weighted kappa {_number(result.weighted_kappa)} (quadratic weights, over the "
                     f"{result.n - result.unparsed} parsed verdicts)")
    lines.append(f"unparsed      {result.unparsed} of {result.n}")
    lines.append("confusion (rows: the person's verdict; columns: the judge's)")
    lines.append(" " * (width + 2) + " ".join(f"{c:>{width}}" for c in (*result.labels, "unparsed")))
    lines += [f"{label:>{width}}  " + " ".join(f"{n:>{width}}" for n in row)
              for label, row in zip(result.labels, result.confusion)]
    return lines


def _number(value: float) -> str:
    return "none (chance alone would agree: one verdict throughout)" if math.isnan(value) else f"{value:.3f}"


def _rubric(args: argparse.Namespace) -> Rubric:
    if args.rubric is not None:
        import yaml

        from .yamlfile import read_text

        try:
            data = yaml.safe_load(read_text(args.rubric, str(args.rubric)))
        except yaml.YAMLError as exc:
            raise ConfigError(f"not YAML ({getattr(exc, 'problem', None) or exc})", where=str(args.rubric)) from None
        return Rubric.from_record(data, where=str(args.rubric))
    record: dict[str, Any] = {"criteria": list(args.criterion or DEFAULT_CRITERIA)}
    if args.scale != "pass_fail":
        record["scale"] = int(args.scale) if str(args.scale).isdigit() else args.scale
    return Rubric.from_record(record, key="--scale")


def _dispatcher(judge: str, models_file: Path | None, data: Path) -> Any:
    """The judge's engine queue: its profile (``llm_models.yaml`` beside the file or in the working
    folder, or ``--models-file``), its retries, timeout, concurrency; no journal."""
    from .engine.dispatch import Dispatcher
    from .engine.retry import RetryPolicy
    from .messages import GenerateRequest
    from .options import RunOptions
    from .profile_files import find_profile_files
    from .profiles import resolve_judge
    from .scrub import Scrubber, secrets_of

    files = [models_file] if models_file else find_profile_files(None, Path.cwd(), [str(data)], Path.cwd())
    opts = RunOptions(models=(), backend=None, base_url=None, api_key_env=None, models_file=models_file, retries=None,
                      timeout_s=None, limit=None, concurrency=None, rate=None, tokens_per_minute=None, cache="off",
                      cache_path=None, deadline_s=None, progress_s=0, max_tokens=None, temperature=None,
                      report_dir=None, strict=False)
    spec = resolve_judge(judge, opts, files)
    backend: list[Any] = []

    def make() -> Any:
        from .backends.registry import create_backend

        if not backend:
            backend.append(create_backend(spec.settings))
        return backend[0]

    def backend_class() -> Any:
        from .backends.registry import resolve_backend_class

        return resolve_backend_class(spec.settings.backend)

    adaptive, concurrency = _adaptive(spec)
    dispatcher = Dispatcher(spec.name, spec.settings, make, backend_class, store=None, limiter=None,
                            policy=RetryPolicy(retries=spec.settings.retries), concurrency=concurrency,
                            batch_size=int(spec.settings.extra.get("batch_size", 16)), on_fatal=lambda _: None,
                            scrubber=Scrubber.of(secrets_of([spec])), adaptive=adaptive)

    s = spec.settings

    def ask(messages: tuple[dict[str, str], ...]) -> Future[Outcome]:
        return dispatcher.submit(GenerateRequest(messages=messages, max_tokens=s.max_tokens,
                                                 temperature=s.temperature, stop=tuple(s.stop)))

    return dispatcher, ask, backend


def _adaptive(spec: Any) -> tuple[Any, int]:
    """The judge's ``concurrency: auto`` adapts here too, on a record of its own (one process)."""
    if spec.concurrency != "auto":
        return None, int(spec.concurrency)
    import atexit
    import shutil
    import tempfile

    from .backends.base import endpoint_of
    from .engine.concurrency import CEILING, AdaptiveConcurrency, concurrency_record
    from .engine.shared_state import FileState

    folder = tempfile.mkdtemp(prefix="llmeval-calibrate-")
    atexit.register(shutil.rmtree, folder, True)
    return AdaptiveConcurrency(FileState(Path(folder)), concurrency_record(endpoint_of(spec.settings)),
                               lease_s=spec.settings.timeout_s + 30.0, rate=spec.rate), CEILING


def main(args: argparse.Namespace) -> int:
    from _pytest._io import TerminalWriter

    writer = TerminalWriter()
    try:
        rubric = _rubric(args)
        rows = read_labelled(args.file, rubric)
        if args.limit is not None:
            rows = rows[: args.limit]
        dispatcher, ask, backend = _dispatcher(args.judge, args.models_file, args.file)
    except ConfigError as exc:
        writer.line(f"pytest-llmeval calibrate: {exc}", red=True, bold=True)
        return USAGE_ERROR
    try:
        result, records = run_calibration(rows, rubric, ask)
    except LLMEvalError as exc:
        writer.line(f"pytest-llmeval calibrate: judge {args.judge}: {exc}", red=True, bold=True)
        return FAILED
    finally:
        dispatcher.close()
        for b in backend:
            b.close()
    for line in report_lines(result, args.judge, rubric):
        writer.line(line)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "judge": args.judge, "rubric": rubric.to_record(), "n": result.n, "unparsed": result.unparsed,
            "agreement": result.agreement, "kappa": None if math.isnan(result.kappa) else result.kappa,
            "weighted_kappa": result.weighted_kappa, "weights": "quadratic" if rubric.scale else None,
            "labels": list(result.labels), "confusion": [list(r) for r in result.confusion],
            "replies": records}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0
