"""results.json, results.csv and samples.jsonl.

results.json and results.csv are written once, at the end, atomically (a temp file beside the
target, then ``os.replace``): a reader never sees half a file. samples.jsonl grows one flushed
line per sample as reports arrive, so a crash or Ctrl-C keeps every sample already reported.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import IO, Any

from ..atomic import write_atomic as _write_atomic
from ..results.aggregate import Row, Summary
from ..results.payload import SampleResult
from ..results.usage import UsageRow

__all__ = ["CSV_COLUMNS", "FolderBusy", "SamplesWriter", "results_document", "write_results_csv", "write_results_json"]

CSV_COLUMNS = [
    "kind", "model", "suite", "name", "version", "n", "correct", "score", "ci_low", "ci_high",
    "threshold", "passed", "metric", "mode", "task", "errors", "unparsed", "unparsed_share", "max_unparsed",
    "unparsed_passed", "statistic", "aggregate", "score_weighted", "score_naive", "members", "metrics",
    "asked", "total", "incomplete", "stopped_early_at",
    "prompt_tokens", "completion_tokens", "tokens_estimated", "sent_prompt_tokens", "sent_completion_tokens",
    "cost", "sent_cost", "currency",
]
_TOP_LEVEL = ("run", "subjects", "groups")


def results_document(run: dict[str, Any], summary: Summary, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"run", "subjects", "groups", **extra}``: the document every report is rendered from
    (docs/results-document.md), so a run and merged shards render alike."""
    clash = sorted(set(extra or {}) & set(_TOP_LEVEL))
    if clash:
        raise ValueError(f"results.json: extra keys {clash} would replace the run's own")
    return {
        "run": run,
        "subjects": [row.to_record() for row in summary.subjects],
        "groups": [row.to_record() for row in summary.groups],
        **(extra or {}),
    }


def write_results_json(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """The document as UTF-8 JSON. NaN anywhere is an error, not invalid JSON."""
    _write_atomic(Path(path), json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n")


def write_results_csv(path: str | os.PathLike[str], summary: Summary) -> None:
    """One line per row, subjects then groups; ``name`` holds the subject or group, ``kind`` says which.
    Then one ``kind`` "model" line per model with its tokens and cost (``name``: the model).

    Undefined values (the score of a row with nothing scored) are empty fields.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_csv_record(row) for row in summary.rows)
    writer.writerows(_usage_record(usage) for usage in summary.usage)
    _write_atomic(Path(path), buffer.getvalue())


def _csv_record(row: Row) -> dict[str, Any]:
    record = row.to_record()
    record["name"] = record.pop(row.kind)
    if "members" in record:
        record["members"] = ";".join(record["members"])
    if "metrics" in record:  # mode: cloze's other metrics, "acc=0.25;acc_norm=0.5"
        record["metrics"] = ";".join(f"{name}={value}" for name, value in record["metrics"].items())
    return {"kind": row.kind, **record}


def _usage_record(usage: UsageRow) -> dict[str, Any]:
    return {"kind": "model", "model": usage.model, "name": usage.model, "n": usage.replies,
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "tokens_estimated": usage.estimated, "sent_prompt_tokens": usage.sent_prompt_tokens,
            "sent_completion_tokens": usage.sent_completion_tokens, "cost": usage.cost, "sent_cost": usage.sent_cost,
            "currency": usage.currency}


def _lock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


class FolderBusy(OSError):
    """Another process is writing this report folder."""


class SamplesWriter:
    """samples.jsonl: each ``write`` appends one JSON line and flushes it at once.

    The first ``write`` truncates the file: one run, one samples.jsonl; a run that reports no
    sample (a bad suite, ``-k`` matching nothing) leaves the previous run's folder as it was. A
    repeated sample (a retried item) gets a line each time it is reported; the last line for an
    id is the one that counted.

    The file stays locked (``flock``) while open, so a second run writing the same folder stops
    at once with ``FolderBusy`` instead of interleaving its samples with this run's.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        handle = self.path.open("a", encoding="utf-8", newline="\n")
        try:
            _lock(handle)
        except BlockingIOError:
            handle.close()
            raise FolderBusy(f"another run is writing {self.path.parent}") from None
        self._file: IO[str] | None = handle
        self._fresh = False

    def write(self, result: SampleResult) -> None:
        if self._file is None:
            raise ValueError(f"{self.path}: samples writer is closed")
        if not self._fresh:
            self._file.truncate(0)
            self._fresh = True
        self._file.write(json.dumps(result.sample_record(), ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> SamplesWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
