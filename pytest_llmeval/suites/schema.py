"""The ``*.llmeval.yaml`` schema. Unknown keys are errors: a typo must never silently change a run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..data.formats import FORMATS
from ..ranges import ranged
from ..scoring.tasks import MODES, REGISTRY, TASKS

__all__ = ["DataConfig", "FewShotConfig", "GenerationConfig", "GroupConfig", "SuiteConfig"]


def _registered(kind: str, names: tuple[str, ...]) -> AfterValidator:
    """A name checked against a registry's keys (``scoring.tasks``, ``data.formats``), so a new
    task or format is accepted here as soon as it is registered there."""

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"unknown {kind} {value!r} (expected one of: {', '.join(names)})")
        return value

    return AfterValidator(check)


Task = Annotated[str, _registered("task", TASKS)]
Format = Annotated[str, _registered("format", FORMATS)]
Mode = Annotated[str, _registered("mode", MODES)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    format: Format
    path: str
    split: str | None = None
    fields: dict[str, str | list[str]] = Field(default_factory=dict)
    subject: str | None = None
    subjects: list[str] | None = None  # evaluate only these subjects


class FewShotConfig(_Strict):
    n: int = Field(ge=0)
    split: str = "dev"
    path: str | None = None  # examples from other data (same format) than the evaluated data
    answer: str | None = None  # template appended to each example; default: target_delimiter + target
    separator: str = "\n\n"


class GenerationConfig(_Strict):
    max_tokens: Annotated[int | None, ranged("max_tokens")] = None
    temperature: Annotated[float | None, ranged("temperature")] = None
    stop: list[str] | None = None


class GroupConfig(_Strict):
    subjects: list[str]
    threshold: float | None = Field(default=None, ge=0, le=1)
    # weighted: correct / n over every member sample (micro); naive: the mean of the members'
    # scores (macro, as MMLU's "average" is usually reported). Both are always reported.
    aggregate: Literal["weighted", "naive"] = "weighted"


class SuiteConfig(_Strict):
    name: str | None = None
    description: str | None = None
    task: Task
    mode: Mode = "gen"
    data: DataConfig
    prompt: str
    system: str | None = None
    preamble: str | None = None
    target_delimiter: str = " "
    few_shot: FewShotConfig | None = None
    scoring: dict[str, Any] = Field(default_factory=dict)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    threshold: float | None = Field(default=None, ge=0, le=1)
    thresholds: dict[str, float] = Field(default_factory=dict)
    # the most of a subject's replies that may have no readable answer (a format failure), e.g. 0.05
    max_unparsed: Annotated[float | None, ranged("max_unparsed")] = None
    groups: dict[str, GroupConfig] = Field(default_factory=dict)  # a bare list is the subjects
    limit: Annotated[int | None, ranged("limit")] = None
    latency: dict[str, Any] = Field(default_factory=dict)  # gates: {ttft_p95_ms: 500}, see results.latency_gates

    @field_validator("prompt")
    @classmethod
    def _prompt_has_text(cls, value: str) -> str:
        """An empty template would send every sample as an empty message and score the replies."""
        if not value.strip():
            raise ValueError("expected a template with text, e.g. '{question}', got an empty one")
        return value

    @field_validator("groups", mode="before")
    @classmethod
    def _lists_are_subjects(cls, value: Any) -> Any:
        """``stem: [a, b]`` is short for ``stem: {subjects: [a, b]}``. Normalised before validation,
        so an error inside a group names its own key rather than a failed union member."""
        if isinstance(value, dict):
            return {name: {"subjects": group} if isinstance(group, list) else group for name, group in value.items()}
        return value

    @model_validator(mode="after")
    def _mode_fits_task(self) -> SuiteConfig:
        if self.mode not in REGISTRY[self.task].modes:
            users = ", ".join(t.name for t in REGISTRY.values() if self.mode in t.modes)
            raise ValueError(f"mode: {self.mode!r} works only with task: {users}")
        from ..scoring.cloze import CLOZE_OPTIONS

        if self.mode != "cloze" and CLOZE_OPTIONS & set(self.scoring):
            key = sorted(CLOZE_OPTIONS & set(self.scoring))[0]
            raise ValueError(f"scoring.{key}: applies to mode: cloze only (this suite has mode: {self.mode})")
        if self.scoring.get("metric") == "mc2" and self.data.format != "truthfulqa":
            raise ValueError("scoring.metric: mc2 needs TruthfulQA's MC2 answers (data.format: truthfulqa)")
        from ..results.latency_gates import GateError, check_gates

        try:
            self.latency = check_gates(self.latency)
        except GateError as exc:
            raise ValueError(f"latency.{exc}") from None
        for subject, value in self.thresholds.items():
            if not 0 <= value <= 1:
                raise ValueError(f"thresholds.{subject}: expected a score between 0 and 1, got {value}")
        return self

    def group_configs(self) -> dict[str, GroupConfig]:
        return dict(self.groups)
