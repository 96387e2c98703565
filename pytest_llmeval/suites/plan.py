"""A suite file becomes a plan: per subject, the samples to run, their few-shot examples, version,
threshold and groups. Everything here happens at collection, identically on every xdist worker,
and never calls a model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import DataSpec, load
from ..errors import ConfigError
from ..identity import SUITE_SUFFIX
from ..prompts import PromptSpec, validate_template
from ..samples import Sample, seeded_rank
from ..scoring import judge_task, validate_options
from .checks import Problems, check_samples, node_name
from .schema import SuiteConfig
from .variants import circular_variants, perturb_variants

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
    suite, _, subject = salt.partition("/")
    keyed = sorted(range(len(samples)), key=lambda i: seeded_rank(suite, subject, str(samples[i].id)))
    keep = sorted(keyed[:limit])
    return [samples[i] for i in keep]


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _sample_key(sample: Sample) -> list[Any]:
    return [sample.id, sample.fields, sample.target, list(sample.choices)]


def _version(config: SuiteConfig, samples: list[Sample], examples: list[Sample],
             judge: dict[str, Any] | None = None) -> str:
    """Everything that changes a score: prompt settings, task, mode, scoring, attempts per sample
    (only when more than one, so versions from before ``repeats`` stand), and the data itself;
    for a judged task also the judge (its model and settings, and the prompt it is shown)."""
    settings = config.model_dump(
        include={"task", "mode", "prompt", "system", "preamble", "target_delimiter", "few_shot", "scoring", "generation"}
    )
    if config.repeats > 1:
        settings["repeats"] = config.repeats
    if judge is not None:
        settings["judge"] = {**judge, "prompt": judge_task.prompt_identity()}
    for key in ("circular", "perturb"):  # only when set, so the versions of every other suite stay as they were
        if getattr(config, key) is not None:
            settings[key] = getattr(config, key).model_dump(exclude={"min_consistency"})
    return _digest([settings, [_sample_key(s) for s in samples], [_sample_key(s) for s in examples]])


def _data_spec(config: SuiteConfig, base: Path, where: str, path: str | None = None) -> DataSpec:
    d = config.data
    return DataSpec(
        format=d.format, path=(base / (path or d.path)).resolve(), split=d.split,
        fields=d.fields, subject=d.subject, where=where,
    )


def _few_shot(config: SuiteConfig, base: Path, where: str) -> dict[str, list[Sample]]:
    fs = config.few_shot
    if fs is None or fs.n == 0:
        return {}
    return load(_data_spec(config, base, where, fs.path), split=fs.split)


def _examples(config: SuiteConfig, subject: str, loaded: dict[str, list[Sample]], problems: Problems,
              where: str) -> list[Sample]:
    """The subject's first ``few_shot.n`` examples, checked like samples; fewer than asked for
    is a problem (a 5-shot run that quietly became 2-shot would not be the run asked for)."""
    fs = config.few_shot
    if fs is None or fs.n == 0:
        return []
    if subject not in loaded:
        raise ConfigError(f"no few-shot examples for subject {subject!r} in split {fs.split!r}", where=where,
                          key="few_shot.split")
    examples = loaded[subject][: fs.n]
    if len(examples) < fs.n:
        origin = examples[0].origin.rpartition(":")[0] if examples else ""
        problems.add(where, f"{fs.n} examples asked for, but split {fs.split!r} has {len(examples)} for subject "
                            f"{subject!r}{f' ({origin})' if origin else ''}", "few_shot.n")
    return check_samples(config, subject, examples, problems, suite=where, role="few-shot example")


def _check_templates(prompt: PromptSpec, sample: Sample, where: str) -> None:
    """An unknown template field fails before any data problem: it is the suite that is wrong."""
    for key, template in (("prompt", prompt.prompt), ("system", prompt.system), ("preamble", prompt.preamble),
                          ("few_shot.answer", prompt.answer)):
        if template:
            try:
                validate_template(template, key, sample)
            except ConfigError as exc:
                raise ConfigError(exc.detail, where=where, key=key) from None


def _unique_subjects(subjects: list[str], where: str) -> None:
    """Two subjects must not share a node id (``a/b`` and ``a_b``): their items would collide."""
    seen: dict[str, str] = {}
    for subject in subjects:
        other = seen.setdefault(node_name(subject), subject)
        if other != subject:
            raise ConfigError(f"subjects {other!r} and {subject!r} both become node id {node_name(subject)!r}; "
                              "rename one", where=where, key="data")


def _check_names(config: SuiteConfig, subjects: set[str], where: str) -> None:
    unknown = [("thresholds", s) for s in config.thresholds if s not in subjects]
    unknown += [(f"groups.{g}", s) for g, gc in config.group_configs().items() for s in gc.subjects if s not in subjects]
    unknown += [("data.subjects", s) for s in (config.data.subjects or []) if s not in subjects]
    if unknown:
        key, name = unknown[0]
        known = ", ".join(sorted(subjects)[:12]) + (", ..." if len(subjects) > 12 else "")
        raise ConfigError(f"no subject named {name!r} in the data (subjects: {known})", where=where, key=key)


def _variants(config: SuiteConfig, samples: list[Sample], salt: str, where: str) -> list[Sample]:
    """The questions chosen, each followed by its variants (rotations or perturbations), if any."""
    return perturb_variants(circular_variants(samples, config.circular), config.perturb, salt, where)


def _check_variant_templates(config: SuiteConfig, sample: Sample, where: str) -> None:
    """A ``perturb.prompt_variant`` template is checked like the suite's prompt."""
    for i, template in enumerate(config.perturb.prompt_variant if config.perturb else []):
        try:
            validate_template(template, "prompt", sample)
        except ConfigError as exc:
            raise ConfigError(exc.detail, where=where, key=f"perturb.prompt_variant[{i}]") from None


def build_plan(config: SuiteConfig, suite_file: Path, where: str, limit: int | None, *,
               judge: dict[str, Any] | None = None) -> SuitePlan:
    """Load and check everything a suite needs, so a bad suite fails collection with one line.
    ``judge``: what identifies a judged task's judge model, for the version."""
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
    name = config.name or suite_file.name.removesuffix(SUITE_SUFFIX)
    selected = [subject for subject in sorted(loaded) if wanted is None or subject in wanted]
    _unique_subjects(selected, where)
    problems = Problems()
    checked: dict[str, tuple[list[Sample], list[Sample]]] = {}
    for subject in selected:
        _check_templates(prompt, loaded[subject][0], where)
        _check_variant_templates(config, loaded[subject][0], where)
        checked[subject] = (check_samples(config, subject, loaded[subject], problems, suite=where),
                            _examples(config, subject, examples_by_subject, problems, where))
    problems.raise_first()
    plans = []
    for subject in selected:
        samples, examples = checked[subject]
        member_of = [g for g, gc in groups.items() if subject in gc.subjects]
        plans.append(SubjectPlan(
            subject=subject,
            samples=_variants(config, choose_limited(samples, limit if limit is not None else config.limit,
                                                     f"{name}/{subject}"), f"{name}/{subject}", where),
            examples=examples,
            version=_version(config, samples, examples, judge),
            threshold=config.thresholds.get(subject, config.threshold),
            groups=member_of,
            group_thresholds={g: groups[g].threshold for g in member_of},
            group_aggregates={g: groups[g].aggregate for g in member_of},
        ))
    return SuitePlan(name=name, config=config, prompt=prompt, subjects=plans)
