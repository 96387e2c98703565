"""The accepted baseline: a JSON file of per-sample correctness, per-subject summaries and versions.

Written by ``--llm-update-baseline`` and read by ``--llm-baseline PATH``. It is meant to be
committed beside the suites, so it is stable and diffable: keys sorted, one run's numbers only,
nothing time-dependent but ``created``. It holds no prompt (the suite and data make those again)
and no secret: per sample only whether it was right (and a graded task's score), the extracted
answer and the reply, which the flips show as "was".

Updating replaces the (model, suite, subject) entries the run scored and keeps every other one,
so ``-k agronomy --llm-update-baseline`` accepts agronomy without forgetting the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from .aggregate import Summary
from .payload import SampleResult

__all__ = ["BASELINE_FORMAT", "Baseline", "BaselineError", "BaselineSubject", "dump_baseline", "load_baseline",
           "updated_baseline", "write_baseline"]

BASELINE_FORMAT = 1


class BaselineError(ConfigError, ValueError):
    """A baseline file that cannot be used; the message is one line naming the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SampleEntry(_Strict):
    """One accepted sample. ``score`` is kept only for a graded task (its float); a right/wrong
    sample's score is 1 or 0 and is not written, so such baselines stay as they were."""

    correct: bool
    score: float | None = Field(default=None, ge=0, le=1)
    extracted: str | None = None
    reply: str | None = None

    def points(self) -> float:
        return self.score if self.score is not None else float(self.correct)


class BaselineSubject(_Strict):
    version: str
    n: int = Field(ge=0)
    correct: int = Field(ge=0)
    score: float | None = None
    samples: dict[str, SampleEntry]


class SuiteEntry(_Strict):
    subjects: dict[str, BaselineSubject] = Field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict)  # summary rows, for reading only


class _File(_Strict):
    llmeval_baseline: int
    created: str
    pytest_llmeval: str = ""
    models: dict[str, dict[str, SuiteEntry]]


@dataclass(frozen=True, slots=True)
class Baseline:
    path: Path
    created: str
    models: dict[str, dict[str, SuiteEntry]] = field(default_factory=dict)

    def model_for(self, model: str) -> str | None:
        """The baseline model a run's model is compared with: the same name, or the only one."""
        if model in self.models:
            return model
        return next(iter(self.models)) if len(self.models) == 1 else None

    def subject(self, model: str, suite: str, subject: str) -> BaselineSubject | None:
        entry = self.models.get(model, {}).get(suite)
        return entry.subjects.get(subject) if entry is not None else None

    def version(self, model: str, suite: str, kind: str, name: str) -> str | None:
        """The version a subject or group row had when accepted; None when it was not."""
        entry = self.models.get(model, {}).get(suite)
        if entry is None:
            return None
        if kind == "subject":
            subject = entry.subjects.get(name)
            return subject.version if subject is not None else None
        version = entry.groups.get(name, {}).get("version")
        return str(version) if version is not None else None

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "created": self.created, "models": sorted(self.models)}


def load_baseline(path: Path) -> Baseline:
    """The baseline at ``path``; BaselineError with one line for anything unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"baseline {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    from ..yamlfile import DuplicateKeyError, loads_json_unique

    try:
        data = loads_json_unique(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path}: line {exc.lineno} column {exc.colno}: not JSON ({exc.msg})") from None
    except DuplicateKeyError as exc:
        raise BaselineError(f"baseline {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("llmeval_baseline") != BASELINE_FORMAT:
        found = data.get("llmeval_baseline") if isinstance(data, dict) else None
        raise BaselineError(f"baseline {path}: llmeval_baseline: expected format {BASELINE_FORMAT}, got {found!r} "
                            "(is this a file written by --llm-update-baseline?)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BaselineError(f"baseline {path}: {where}: {first['msg'].lower()}") from None
    return Baseline(path=path, created=parsed.created, models=parsed.models)


def updated_baseline(previous: Baseline | None, results: Iterable[SampleResult], summary: Summary,
                     version: str) -> dict[str, Any]:
    """The baseline document after accepting this run: its scored subjects replace the previous
    entries, everything else is kept. ``results`` are the run's unique samples, without errors."""
    models: dict[str, dict[str, dict[str, Any]]] = {
        model: {suite: _dumped(entry) for suite, entry in suites.items()}
        for model, suites in (previous.models.items() if previous else [])
    }
    fresh: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in results:
        if r.correct is None:
            continue
        entry = fresh.setdefault((r.model, r.suite, r.subject), {"version": r.version, "samples": {}})
        entry["samples"][r.id] = {"correct": r.correct, "extracted": r.extracted, "reply": r.reply} | (
            {"score": r.points()} if r.aggregate == "mean" else {})
    for row in summary.subjects:
        if (row.model, row.suite, row.name) in fresh:
            fresh[(row.model, row.suite, row.name)] |= {"n": row.n, "correct": row.correct, "score": row.score,
                                                        "version": row.version}
    for (model, suite, subject), entry in fresh.items():
        suite_entry = models.setdefault(model, {}).setdefault(suite, {"subjects": {}, "groups": {}})
        suite_entry["subjects"][subject] = entry
    for row in summary.groups:
        if row.model in models and row.suite in models[row.model]:
            record = row.to_record()
            record.pop("group")
            models[row.model][row.suite]["groups"][row.name] = record
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {"llmeval_baseline": BASELINE_FORMAT, "created": created, "pytest_llmeval": version, "models": models}


def _dumped(entry: SuiteEntry) -> dict[str, Any]:
    """A kept suite entry as it was read: a sample's unset ``score`` is left out, not written null."""
    data = entry.model_dump()
    for subject in data["subjects"].values():
        for sample in subject["samples"].values():
            if sample["score"] is None:
                del sample["score"]
    return data


def dump_baseline(document: dict[str, Any]) -> str:
    """Sorted keys and one entry per line, so a changed sample is a one-line diff."""
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=False) + "\n"


def write_baseline(path: Path, document: dict[str, Any]) -> None:
    """Atomically: a CI job killed mid-write keeps the old baseline."""
    from ..atomic import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dump_baseline(document))
