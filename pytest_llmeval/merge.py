"""Shards' report folders into one: the same summary, verdict and reports as one run would give.

Each shard's samples.jsonl holds the whole payload of every sample (``SampleResult.sample_record``)
and its results.json the settings that decide a run (``run.options``). Merging reads both back,
checks that the folders are the shards of one run (same settings, every shard once, no sample
twice) and calls the same ``conclude`` and report writers as the plugin.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, detail
from .options import parse_shard
from .results.conclude import Conclusion, Settings, accept_baseline, conclude
from .results.payload import SampleResult

__all__ = ["MergeError", "Shard", "merge", "read_shard"]



class MergeError(ConfigError, ValueError):
    """Folders that cannot be merged; one line naming the file and what was expected."""


@dataclass(frozen=True, slots=True)
class Shard:
    folder: Path
    run: dict[str, Any]
    samples: list[SampleResult]

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = self.run.get("options") or {}
        return options


def read_shard(folder: Path) -> Shard:
    results, samples = folder / "results.json", folder / "samples.jsonl"
    for path in (results, samples):
        if not path.is_file():
            raise MergeError(f"{path}: not found (expected a --llm-report-dir folder)")
    try:
        run = json.loads(results.read_text(encoding="utf-8"))["run"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MergeError(f"{results}: expected a results.json with a 'run' object ({detail(exc)})") from None
    return Shard(folder=folder, run=run, samples=list(_read_samples(samples)))


def _read_samples(path: Path) -> list[SampleResult]:
    samples: list[SampleResult] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                samples.append(SampleResult.from_record(json.loads(line)))
            except (json.JSONDecodeError, ValueError) as exc:
                raise MergeError(f"{path}:{number}: not a sample record ({detail(exc)})") from None
    return samples


def check_shards(shards: Sequence[Shard], allow_partial: bool) -> None:
    """One run's shards: the same settings, each shard once, and (unless partial) all of them."""
    first = shards[0]
    for shard in shards[1:]:
        for key in Settings.RECORDED:  # they decide the verdict: shards that differ are not one run
            if shard.options.get(key) != first.options.get(key):
                raise MergeError(f"{shard.folder / 'results.json'}: run.options.{key} is "
                                 f"{shard.options.get(key)!r}, but {first.options.get(key)!r} in {first.folder}")
    labels = [shard.options.get("shard") for shard in shards]
    if any(label is None for label in labels):
        if len(shards) > 1:
            where = shards[labels.index(None)].folder
            raise MergeError(f"{where / 'results.json'}: run.options.shard is not set (expected a run with --llm-shard)")
        return
    parsed = [parse_shard(str(label)) for label in labels]
    totals = {total for _, total in parsed}
    if len(totals) != 1:
        raise MergeError(f"shards of different splits: {', '.join(map(str, labels))}")
    seen: dict[int, Path] = {}
    for (index, _), shard in zip(parsed, shards):
        if index in seen:
            raise MergeError(f"shard {index} twice: {seen[index]} and {shard.folder}")
        seen[index] = shard.folder
    total = totals.pop()
    missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in seen]
    if missing and not allow_partial:
        raise MergeError(f"missing shard {', '.join(missing)} (merge every shard, or pass --allow-partial)")


def _union(shards: Sequence[Shard]) -> list[SampleResult]:
    """Every shard's samples; a sample reported by two shards means they split differently."""
    owner: dict[tuple[str, str, str, str], Path] = {}
    merged: list[SampleResult] = []
    for shard in shards:
        for r in shard.samples:
            key = (r.model, r.suite, r.subject, r.id)
            if owner.setdefault(key, shard.folder) != shard.folder:
                raise MergeError(f"{shard.folder / 'samples.jsonl'}: sample {r.model} {r.suite}/{r.subject} "
                                 f"id={r.id} is also in {owner[key]}")
            merged.append(r)
    return merged


def _shard_index(shard: Shard) -> tuple[int, int]:
    label = shard.options.get("shard")
    try:
        return parse_shard(str(label)) if label else (0, 0)
    except ValueError:
        raise MergeError(f"{shard.folder / 'results.json'}: run.options.shard: expected I/N, got {label!r}") from None


def merged_run(shards: Sequence[Shard]) -> dict[str, Any]:
    """The first shard's run, with the span of all of them and the shards listed."""
    run = dict(shards[0].run)
    run["options"] = dict(shards[0].options) | {"shard": None}
    run["started"] = min(str(s.run.get("started", "")) for s in shards)
    run["duration_s"] = max(float(s.run.get("duration_s") or 0) for s in shards)
    run["shards"] = [s.options.get("shard") for s in shards]
    suites: dict[str, dict[str, str]] = {}
    for shard in shards:
        for suite, subjects in ((shard.run.get("versions") or {}).get("suites") or {}).items():
            suites.setdefault(suite, {}).update(subjects)
    run["versions"] = dict(run.get("versions") or {}) | {"suites": suites}
    return run


def merge(folders: Sequence[Path], baseline: Path | None = None, update_baseline: bool | None = None,
          allow_partial: bool = False) -> tuple[dict[str, Any], Conclusion]:
    """(run, conclusion) of the shards in ``folders``; ``baseline`` and ``update_baseline``
    override what the shards recorded (a baseline is usually accepted once, after merging)."""
    shards = sorted((read_shard(Path(f)) for f in folders), key=_shard_index)
    check_shards(shards, allow_partial)
    settings = Settings.from_record(shards[0].options)
    if baseline is not None:
        settings = replace(settings, baseline=baseline)
    if update_baseline is not None:
        settings = replace(settings, update_baseline=update_baseline)
    if settings.update_baseline and settings.baseline is None:
        settings = replace(settings, baseline=Path("llmeval-baseline.json"))
    conclusion = conclude(_union(shards), settings)
    if (conclusion.write_baseline or conclusion.obtained is not None) and settings.baseline is not None:
        accept_baseline(conclusion, settings.baseline)
    run = merged_run(shards)
    run["options"] |= {"baseline": str(settings.baseline) if settings.baseline else None,
                       "update_baseline": settings.update_baseline}
    return run, conclusion
