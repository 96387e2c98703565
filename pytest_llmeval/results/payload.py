"""The per-sample result that crosses from a worker to the controller.

It rides on the test report as a JSON string (``report.llmeval``), the way hypothesis's plugin
sends per-item data: xdist serialises it with the report and needs no code of ours, a crashed
worker loses nothing it already reported, and the controller (which never collects items) gets
everything the summary needs from the payload alone.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

__all__ = ["PAYLOAD_ATTR", "PAYLOAD_VERSION", "SampleKey", "SampleResult", "last_per_sample", "result_of", "sample_key"]

SampleKey = tuple[str, str, str, str]  # (model, suite, subject, id): one sample of one model

PAYLOAD_ATTR = "llmeval"
PAYLOAD_VERSION = 1


@dataclass(slots=True)
class SampleResult:
    """One scored (or failed) sample of one model.

    ``correct`` is None exactly when ``error`` is set: an error is never counted as a miss.
    ``threshold`` is the subject's effective threshold; ``group_thresholds`` maps each group the
    subject belongs to onto that group's threshold (None: the group is reported, not gated).
    ``rule`` names the extraction rule that read the answer from the reply, or why none could
    (``scoring.rules``); ``unparsed`` is true when none could: a format failure, not a wrong
    answer. Both stay unset where nothing is read from a reply (errors, refusals, Python tests).
    ``max_unparsed`` is the suite's limit on the subject's unparsed share (None: no limit).
    ``score`` is the sample's score on the task's metric, set with ``correct`` (1.0 or 0.0 for a
    right/wrong task, the float of a graded one: a ROUGE F1, a judge's scale, pass@1 over repeats);
    ``aggregate`` says how its subject combines them: ``proportion`` (right / n, Wilson interval)
    or ``mean`` (the mean score, bootstrap interval). Set both through ``set_verdict``.
    ``question``, ``variant`` and ``variants`` are set for a variant of a question (``robustness``
    ``circular``: one rotation of its options; ``perturb``: the original or one perturbation): the
    question's id shared by its variants, this variant's name and how many the question was
    planned with (``results/circular.py``, ``results/perturb.py``).
    ``not_asked`` is why the sample was deliberately not sent (``errors.NotAsked``: early stopping,
    a budget): not scored, not an error, its item a skip; ``not_asked_complete`` is NotAsked's
    ``complete`` (the subject's verdict was already known) and, when false, makes the subject
    incomplete.
    """

    model: str
    suite: str
    subject: str
    id: str
    version: str
    nodeid: str
    task: str = "multiple_choice"
    mode: str = "gen"
    metric: str = "accuracy"
    groups: list[str] = field(default_factory=list)
    threshold: float | None = None
    max_unparsed: float | None = None
    group_thresholds: dict[str, float | None] = field(default_factory=dict)
    group_aggregates: dict[str, str] = field(default_factory=dict)  # group -> "weighted" | "naive"
    prompt: str = ""
    reply: str | None = None
    extracted: str | None = None
    rule: str | None = None
    unparsed: bool = False
    target: str | None = None
    correct: bool | None = None
    score: float | None = None
    aggregate: str = "proportion"
    error: str | None = None
    rejected: str | None = None  # the endpoint refused the prompt by policy: a miss, with why
    not_asked: str | None = None  # deliberately not sent (errors.NotAsked): a skip, not scored
    not_asked_complete: bool = False
    early_stop: float | None = None  # --llm-early-stop's level alpha for this sample's subject (None: off)
    fatal: bool = False
    retries: int = 0
    cached: bool = False
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False  # the server sent no usage: both counts are the engine's estimate
    # Serving performance (``results.latency``): measured from when the request was sent. E2E for
    # every sample answered now; TTFT, TPOT and ITL only when it was streamed (``streamed``).
    streamed: bool = False
    e2e_s: float | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    itl_s: list[float] | None = None
    output_tokens: int | None = None  # usage's completion tokens, else the content chunks counted
    sent_at: float | None = None  # wall clock (epoch s) of the send, for the request phase's span
    latency_gates: dict[str, float] = field(default_factory=dict)  # the suite's or marker's gates
    # A suite with ``repeats`` > 1: every attempt (reply, extracted, rule, correct, error), and the
    # problem's unbiased pass@k ({"pass@1": ...}); ``correct`` is then pass^k (every attempt right).
    attempts: list[dict[str, Any]] | None = None
    pass_at: dict[str, float] | None = None
    # task judge: the judge's name, its reply (the reasoning and the verdict), retries, cached
    judge: dict[str, Any] | None = None
    # --llm-judge-pairwise: this reply against the baseline's (``results.pairwise``): the judge,
    # ``outcome`` (win, tie, loss, unparsed), each order's verdict and the judge's replies, or ``error``
    pairwise: dict[str, Any] | None = None
    # text metrics: the metric, tokenisation, stemming and per-sample signature (``results.corpus``)
    metric_settings: dict[str, Any] | None = None
    robustness: str | None = None  # "circular" | "perturb": a variant of a question, aggregated by question
    min_consistency: float | None = None  # perturb: the subject's least share of questions answered alike
    question: str | None = None
    variant: str | None = None
    variants: int = 1
    # ``mode: cloze``: each option's summed log-likelihood (``unconditional``: after the empty
    # context, for mutual information), each rule's pick (a label), and ``metrics``: each computed
    # metric's value for this sample (1.0 or 0.0), which the subject and group rows average.
    logprobs: list[float] | None = None
    unconditional: list[float] | None = None
    picks: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    # ``@llmeval.examples``: the drawn example's arguments (name -> repr), and with ``--llm-shrink``
    # on the one failing example of its test and model that was shrunk: ``shrunk`` = {"example": the
    # minimal failing arguments, "from": this id, "calls": test calls made, "limit"/"stopped"}
    example: dict[str, str] | None = None
    shrunk: dict[str, Any] | None = None
    v: int = PAYLOAD_VERSION

    @property
    def key(self) -> SampleKey:
        return self.model, self.suite, self.subject, self.id

    def set_verdict(self, correct: bool, score: float | None = None) -> None:
        """The sample was scored: right or wrong (for a graded task: whether it reached the suite's
        pass mark), and its score (None: 1.0 when right, 0.0 when wrong)."""
        self.correct = correct
        self.score = float(correct) if score is None else float(score)

    def set_not_asked(self, reason: str, complete: bool) -> None:
        """The sample was deliberately not sent (``errors.NotAsked``): nothing of an answer stays."""
        self.not_asked, self.not_asked_complete = reason, complete
        self.correct = self.score = self.rejected = None

    def points(self) -> float | None:
        """The score its subject aggregates; None when not scored. Records written before scores
        were carried (``score`` unset) count 1.0 when right and 0.0 when wrong."""
        if self.correct is None:
            return None
        return self.score if self.score is not None else float(self.correct)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SampleResult:
        data: dict[str, Any] = json.loads(text)
        if data.get("v") != PAYLOAD_VERSION:
            raise ValueError(f"llmeval payload version {data.get('v')!r}, expected {PAYLOAD_VERSION}")
        return cls(**data)

    def sample_record(self) -> dict[str, Any]:
        """The samples.jsonl line: PRODUCT.md's fields first, then everything else the payload
        holds (groups, thresholds, gates, ``v``), so that ``pytest-llmeval merge`` can rebuild
        the exact results of shards from their samples.jsonl files alone."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SampleResult:
        """A samples.jsonl line back into a result; ValueError naming what is wrong."""
        if record.get("v") != PAYLOAD_VERSION:
            raise ValueError(f"record version {record.get('v')!r}, expected {PAYLOAD_VERSION} "
                             "(written by another pytest-llmeval release)")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}")
        try:
            return cls(**record)
        except TypeError as exc:
            raise ValueError(str(exc)) from None


Record = TypeVar("Record", SampleResult, Mapping[str, Any])


def sample_key(record: SampleResult | Mapping[str, Any]) -> SampleKey:
    """The sample a result or a samples.jsonl record belongs to."""
    if isinstance(record, SampleResult):
        return record.key
    model, suite, subject, id_ = (str(record.get(k, "")) for k in ("model", "suite", "subject", "id"))
    return model, suite, subject, id_


def last_per_sample(records: Iterable[Record]) -> list[Record]:
    """One per sample, the last reported (a rerun item's later report replaces its first), in the
    order samples were first reported. Every reader of results goes through this."""
    return list({sample_key(r): r for r in records}.values())


_PARSED: weakref.WeakKeyDictionary[Any, SampleResult] = weakref.WeakKeyDictionary()


def result_of(report: Any) -> SampleResult | None:
    """The report's sample result, parsed once per report object: the terminal asks for a
    report's status more than once, and the controller reads it again."""
    payload = getattr(report, PAYLOAD_ATTR, None)
    if payload is None:
        return None
    result = _PARSED.get(report)
    if result is None:
        result = _PARSED[report] = SampleResult.from_json(payload)
    return result
