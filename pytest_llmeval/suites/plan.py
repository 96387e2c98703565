"""A suite file becomes a plan: per subject, the samples to run, their few-shot examples, version,
threshold and groups. Everything here happens at collection, identically on every xdist worker,
and never calls a model.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import DataSpec, load
from ..errors import ConfigError
from ..prompts import PromptSpec, validate_template
from ..samples import Sample
from ..scoring import extract_number, normalize_choice_target, validate_options
from .schema import SuiteConfig

__all__ = ["SubjectPlan", "SuitePlan", "build_plan", "choose_limited"]


@dataclass(frozen=True, slots=True)
class SubjectPlan:
    subject: str
    samples: list[Sample]
    examples: list[Sample]
    version: str
    threshold: float | None
    groups: list[str]
    group_thresholds: dict[str, float | None]
    group_aggregates: dict[str, str]


@dataclass(frozen=True, slots=True)
class SuitePlan:
    name: str
    config: SuiteConfig
    prompt: PromptSpec
    subjects: list[SubjectPlan] = field(default_factory=list)


def choose_limited(samples: list[Sample], limit: int | None, salt: str) -> list[Sample]:
    """A deterministic, spread-out subset: the ``limit`` samples with the smallest crc32 of their id.

    Taking the first N rows would bias towards however the file happens to be sorted; crc32 (not
    ``hash()``) is the same in every process and on every run, so xdist workers agree.
    """
    if limit is None or len(samples) <= limit:
        return samples
    keyed = sorted(range(len(samples)), key=lambda i: zlib.crc32(f"{salt}/{samples[i].id}".encode()))
    keep = sorted(keyed[:limit])
    return [samples[i] for i in keep]


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _sample_key(sample: Sample) -> list[Any]:
    return [sample.id, sample.fields, sample.target, list(sample.choices)]


def _version(config: SuiteConfig, samples: list[Sample], examples: list[Sample]) -> str:
    """Everything that changes a score: prompt settings, task, mode, scoring, and the data itself."""
    settings = config.model_dump(
        include={"task", "mode", "prompt", "system", "preamble", "target_delimiter", "few_shot", "scoring", "generation"}
    )
    return _digest([settings, [_sample_key(s) for s in samples], [_sample_key(s) for s in examples]])


def _data_spec(config: SuiteConfig, base: Path, where: str, path: str | None = None) -> DataSpec:
    d = config.data
    return DataSpec(
        format=d.format, path=(base / (path or d.path)).resolve(), split=d.split,
        fields=d.fields, subject=d.subject, where=where,
    )


def _normalise_targets(config: SuiteConfig, subject: str, samples: list[Sample], where: str) -> list[Sample]:
    """Multiple-choice gold answers become letters once, here, so a bad one fails collection."""
    out = []
    for s in samples:
        gold = s.target
        if gold is None:
            split = config.data.split or "the default split"
            raise ConfigError(
                f"{subject} sample {s.id} in {split} has no answer to score against "
                "(C-Eval's test split ships without answers: use split: val)", where=where, key="data.split")
        if config.task == "multiple_choice":
            if not s.choices:
                raise ConfigError(f"{subject} sample {s.id} has no options; map them with fields.choices", where=where, key="data.fields")
            try:
                target = normalize_choice_target(gold, s.choices, s.labels)
            except ValueError as exc:
                raise ConfigError(f"{subject} sample {s.id}: {exc}", where=where, key="data") from None
            s = Sample(id=s.id, subject=s.subject, fields=s.fields, target=target, choices=s.choices)
        elif config.task == "numeric" and extract_number(gold) is None:
            raise ConfigError(f"{subject} sample {s.id}: answer {gold!r} holds no number", where=where, key="data")
        out.append(s)
    return out


def _few_shot(config: SuiteConfig, base: Path, where: str) -> dict[str, list[Sample]]:
    fs = config.few_shot
    if fs is None or fs.n == 0:
        return {}
    loaded = load(_data_spec(config, base, where, fs.path), split=fs.split)
    return {subject: samples[: fs.n] for subject, samples in loaded.items()}


def _check_names(config: SuiteConfig, subjects: set[str], where: str) -> None:
    unknown = [("thresholds", s) for s in config.thresholds if s not in subjects]
    unknown += [(f"groups.{g}", s) for g, gc in config.group_configs().items() for s in gc.subjects if s not in subjects]
    unknown += [("data.subjects", s) for s in (config.data.subjects or []) if s not in subjects]
    if unknown:
        key, name = unknown[0]
        known = ", ".join(sorted(subjects)[:12]) + (", ..." if len(subjects) > 12 else "")
        raise ConfigError(f"no subject named {name!r} in the data (subjects: {known})", where=where, key=key)


def build_plan(config: SuiteConfig, suite_file: Path, where: str, limit: int | None) -> SuitePlan:
    """Load and check everything a suite needs, so a bad suite fails collection with one line."""
    validate_options(config.task, config.scoring)
    fs = config.few_shot
    prompt = PromptSpec(
        prompt=config.prompt, system=config.system, preamble=config.preamble,
        target_delimiter=config.target_delimiter,
        answer=fs.answer if fs else None, separator=fs.separator if fs else "\n\n",
    )
    base = suite_file.parent
    loaded = load(_data_spec(config, base, where))
    _check_names(config, set(loaded), where)
    examples_by_subject = _few_shot(config, base, where)
    groups = config.group_configs()
    wanted = set(config.data.subjects) if config.data.subjects else None
    name = config.name or suite_file.name.removesuffix(".llmeval.yaml")
    plans = []
    for subject in sorted(loaded):
        if wanted is not None and subject not in wanted:
            continue
        samples = _normalise_targets(config, subject, loaded[subject], where)
        if fs and fs.n and subject not in examples_by_subject:
            raise ConfigError(f"no few-shot examples for subject {subject!r} in split {fs.split!r}", where=where, key="few_shot.split")
        examples = _normalise_targets(config, subject, examples_by_subject.get(subject, []), where)
        if samples:
            for key, template in (("prompt", prompt.prompt), ("system", prompt.system), ("preamble", prompt.preamble), ("few_shot.answer", prompt.answer)):
                if template:
                    try:
                        validate_template(template, key, samples[0])
                    except ConfigError as exc:
                        raise ConfigError(exc.detail, where=where, key=key) from None
        member_of = [g for g, gc in groups.items() if subject in gc.subjects]
        plans.append(SubjectPlan(
            subject=subject,
            samples=choose_limited(samples, limit if limit is not None else config.limit, f"{name}/{subject}"),
            examples=examples,
            version=_version(config, samples, examples),
            threshold=config.thresholds.get(subject, config.threshold),
            groups=member_of,
            group_thresholds={g: groups[g].threshold for g in member_of},
            group_aggregates={g: groups[g].aggregate for g in member_of},
        ))
    return SuitePlan(name=name, config=config, prompt=prompt, subjects=plans)
