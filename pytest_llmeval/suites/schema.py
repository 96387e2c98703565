"""The ``*.llmeval.yaml`` schema. Unknown keys are errors: a typo must never silently change a run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..data.formats import FORMATS
from ..ranges import ranged
from ..scoring.tasks import MODES, REGISTRY, TASKS

__all__ = ["CircularConfig", "DataConfig", "PerturbConfig", "TypoConfig", "FewShotConfig", "GenerationConfig", "GroupConfig", "SuiteConfig"]


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


class CircularConfig(_Strict):
    """``circular:``: ask each multiple-choice question once per rotation of its options and count
    it right only when every rotation is (OpenCompass's CircularEval). ``all``: as many rotations
    as the question has options; a number: the first that many (the identity, then shifts by one)."""

    rotations: Literal["all"] | Annotated[int, Field(ge=2)] = "all"

    def count(self, options: int) -> int:
        """How many rotations a question with ``options`` options gets (never more than it has)."""
        return options if self.rotations == "all" else min(self.rotations, options)


class TypoConfig(_Strict):
    rate: float = Field(default=0.05, gt=0, le=1)  # the chance that each letter swaps with the next


class EarlyStopConfig(_Strict):
    """``early_stop:``: stop asking a gated subject once its verdict is certain at level ``alpha``
    (``results/sequential.py``); ``true`` is ``{alpha: 0.05}``. With ``--llm-early-stop`` too, the
    smaller alpha applies; ``false`` (``alpha`` None) keeps the suite's subjects asked in full."""

    alpha: Annotated[float | None, ranged("early_stop")] = 0.05


class PerturbConfig(_Strict):
    """``perturb:``: each named transform makes one variant of every question (``prompt_variant``
    one per template), asked beside the original; ``suites/variants.py`` says what each does.
    ``min_consistency`` fails the run when a subject's share of questions answered alike in the
    original and every variant is below it."""

    seed: int = 0
    shuffle_options: bool = False
    whitespace: bool = False
    case: Literal["upper", "lower"] | None = None
    typo: TypoConfig | None = None
    distractor_sentence: str | None = None
    prompt_variant: list[str] = Field(default_factory=list)
    min_consistency: float | None = Field(default=None, ge=0, le=1)

    @field_validator("case", "typo", "distractor_sentence", mode="before")
    @classmethod
    def _flags(cls, value: Any, info: Any) -> Any:
        """``case: true`` is upper case, ``typo: true`` the default rate, ``distractor_sentence: true``
        the default sentence; ``false`` is off."""
        if value is False:
            return None
        if value is True:
            return {"case": "upper", "typo": {}, "distractor_sentence": DISTRACTOR}[info.field_name]
        return value

    def transforms(self) -> list[str]:
        """The variants each question gets, in order (``prompt_variant1``.. one per template)."""
        named = [("shuffle_options", self.shuffle_options), ("whitespace", self.whitespace),
                 ("case", self.case is not None), ("typo", self.typo is not None),
                 ("distractor_sentence", self.distractor_sentence is not None)]
        return [name for name, on in named if on] + [f"prompt_variant{i + 1}" for i in range(len(self.prompt_variant))]


DISTRACTOR = "Note that the weather was pleasant yesterday."


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
    # attempts per sample (lm-eval's ``repeats``, HumanEval's "n samples per problem"), sampled at
    # generation.temperature; pass@k is reported for every k here (each at most ``repeats``)
    repeats: int = Field(default=1, ge=1, le=1000)
    pass_at_k: list[int] = Field(default_factory=lambda: [1])
    circular: CircularConfig | None = None  # ``true`` is ``{rotations: all}``; see suites/variants.py
    perturb: PerturbConfig | None = None
    early_stop: EarlyStopConfig | None = None  # None: as --llm-early-stop says

    @field_validator("early_stop", mode="before")
    @classmethod
    def _early_stop_flag(cls, value: Any) -> Any:
        """``early_stop: true`` is the default level; ``false`` turns it off for this suite."""
        if isinstance(value, bool):
            return {} if value else {"alpha": None}
        return value

    def early_stop_alpha(self, run_alpha: float | None) -> float | None:
        """The level this suite's gated subjects stop early at (None: asked in full): the smaller
        of the suite's and the run's ``--llm-early-stop``; the suite's ``false`` wins. Suites of
        question variants (``circular``, ``perturb``) are asked in full."""
        if self.early_stop is not None and self.early_stop.alpha is None:
            return None
        levels = [a for a in (self.early_stop.alpha if self.early_stop else None, run_alpha) if a is not None]
        return min(levels) if levels and self.circular is None and self.perturb is None else None

    @field_validator("circular", mode="before")
    @classmethod
    def _circular_flag(cls, value: Any) -> Any:
        """``circular: true`` is every rotation; ``false`` (or no key) is none."""
        if value is True:
            return {}
        return None if value is False else value

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
        self._check_repeats()
        if self.circular is not None and not REGISTRY[self.task].needs_choices:
            raise ValueError(f"circular: rotates options and works only with task: multiple_choice, not {self.task!r}")
        if self.perturb is not None:
            self._check_perturb(self.perturb)
        if self.early_stop is not None and self.early_stop.alpha is not None and (self.circular or self.perturb):
            raise ValueError("early_stop: works on plain subjects, not with circular: or perturb: (a question's "
                             "variants are scored together)")
        for subject, value in self.thresholds.items():
            if not 0 <= value <= 1:
                raise ValueError(f"thresholds.{subject}: expected a score between 0 and 1, got {value}")
        return self

    def _check_repeats(self) -> None:
        bad = [k for k in self.pass_at_k if not 1 <= k <= self.repeats]
        if bad:
            raise ValueError(f"pass_at_k: pass@{bad[0]} needs 1 <= k <= repeats ({self.repeats})")
        if self.repeats > 1 and self.mode != "gen":
            raise ValueError(f"repeats: {self.repeats} works only with mode: gen (log-likelihoods are the same "
                             "every time)")
    def _check_perturb(self, perturb: PerturbConfig) -> None:
        if not perturb.transforms():
            raise ValueError("perturb: names no transform (shuffle_options, whitespace, case, typo, "
                             "distractor_sentence, prompt_variant)")
        if self.circular is not None:
            raise ValueError("circular: and perturb: cannot be combined in one suite; use two suites")
        if perturb.shuffle_options and not REGISTRY[self.task].needs_choices:
            raise ValueError(f"perturb.shuffle_options works only with task: multiple_choice, not {self.task!r}")
        for i, template in enumerate(perturb.prompt_variant):
            if not template.strip():
                raise ValueError(f"perturb.prompt_variant[{i}]: expected a template with text, got an empty one")

    def group_configs(self) -> dict[str, GroupConfig]:
        return dict(self.groups)
