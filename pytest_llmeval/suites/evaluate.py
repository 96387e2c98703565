"""One sample, one model: build the request, get its outcome from the engine, score the reply.

The outcome is always a ``SampleResult``: backend failures become ``error`` (never a miss), a
policy refusal is a miss with its reason, so the item, the summary and the reports all read the
same record.
"""

from __future__ import annotations

from typing import Any

from ..engine.dispatch import Outcome
from ..errors import FatalBackendError
from ..messages import GenerateRequest, LoglikelihoodRequest, Reply
from ..profiles import ModelSpec
from ..prompts import render_messages_text
from ..results.payload import SampleResult
from ..samples import Sample
from ..scoring import pick_by_loglikelihood, rules, score_reply
from ..scoring.cloze import (
    GRADED_METRICS, cloze_continuations, cloze_metric, cloze_scores, truthfulqa_mc2, wants_mutual_info,
)
from ..scoring.tasks import REGISTRY
from .plan import SubjectPlan, SuitePlan

__all__ = ["apply_outcome", "generation_request", "new_result", "sample_request", "timing_fields",
           "unconditional_request"]

Request = GenerateRequest | LoglikelihoodRequest


def generation_request(model: ModelSpec, plan: SuitePlan, messages: tuple[dict[str, str], ...]) -> GenerateRequest:
    """Generation settings: what the user pinned (CLI/profile) wins, then the suite, then defaults."""
    s, gen = model.settings, plan.config.generation
    pinned = model.generation_fixed
    max_tokens = s.max_tokens if "max_tokens" in pinned or gen.max_tokens is None else gen.max_tokens
    temperature = s.temperature if "temperature" in pinned or gen.temperature is None else gen.temperature
    stop = s.stop if "stop" in pinned or gen.stop is None else tuple(gen.stop)
    return GenerateRequest(messages=messages, max_tokens=max_tokens, temperature=temperature, stop=tuple(stop))


def sample_request(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample) -> tuple[str, Request]:
    """The recorded prompt and the request, built once before anything is sent."""
    if plan.config.mode == "ll":
        context = plan.prompt.text(sample, subject.examples)
        return context, LoglikelihoodRequest(context=context, continuations=plan.prompt.continuations(sample.labels))
    if plan.config.mode == "cloze":  # the option texts after the delimiter, as lm-eval's continuations
        context = plan.prompt.text(sample, subject.examples)
        return context, LoglikelihoodRequest(context, cloze_continuations(_cloze_texts(sample), plan.config.target_delimiter))
    messages = plan.prompt.messages(sample, subject.examples)
    return render_messages_text(messages), generation_request(model, plan, messages)


def unconditional_request(plan: SuitePlan, sample: Sample) -> LoglikelihoodRequest | None:
    """lm-eval's second request for ``acc_mutual_info``: the same continuations after an empty
    context (the BOS token); None unless the cloze suite asks for mutual information."""
    if plan.config.mode != "cloze" or not wants_mutual_info(plan.config.scoring):
        return None
    return LoglikelihoodRequest("", cloze_continuations(_cloze_texts(sample), plan.config.target_delimiter))


def _cloze_texts(sample: Sample) -> tuple[str, ...]:
    """The texts one cloze request scores: the options, then (TruthfulQA, ``data.format:
    truthfulqa``) its MC2 answers that are not among them, so MC1 and MC2 share one request."""
    extra = [text for text in sample.fields.get("mc2_choices") or () if text not in sample.choices]
    return (*sample.choices, *dict.fromkeys(extra))


def _metric_name(plan: SuitePlan) -> str:
    """A cloze suite's subject score is the metric it names; other suites report the task's."""
    return cloze_metric(plan.config.scoring) if plan.config.mode == "cloze" else REGISTRY[plan.config.task].metric


def new_result(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample, nodeid: str) -> SampleResult:
    task = REGISTRY[plan.config.task]
    return SampleResult(
        model=model.name, suite=plan.name, subject=subject.subject, id=sample.id, version=subject.version,
        nodeid=nodeid, task=task.name, mode=plan.config.mode, metric=_metric_name(plan),
        aggregate="mean" if _metric_name(plan) in GRADED_METRICS else task.aggregate,
        groups=list(subject.groups),
        threshold=subject.threshold, max_unparsed=plan.config.max_unparsed,
        group_thresholds=dict(subject.group_thresholds), target=sample.target,
        group_aggregates=dict(subject.group_aggregates),
        latency_gates=dict(plan.config.latency),
    )


def apply_outcome(result: SampleResult, plan: SuitePlan, sample: Sample, outcome: Outcome,
                  unconditional: Outcome | None = None) -> SampleResult:
    """Fill ``result`` from what the engine got for the sample's request (and for its
    ``unconditional_request``, when it has one: either one failing fails the sample)."""
    if unconditional is not None and (unconditional.error is not None or unconditional.rejected is not None):
        outcome = unconditional
    result.retries, result.cached = outcome.retries, outcome.cached
    if outcome.latency_s is not None:
        result.latency_s = round(outcome.latency_s, 6)
    for name, value in timing_fields(outcome).items():
        setattr(result, name, value)
    if outcome.error is not None:
        result.error, result.fatal = str(outcome.error), isinstance(outcome.error, FatalBackendError)
        return result
    if outcome.rejected is not None:
        result.rejected = outcome.rejected
        result.set_verdict(False)
        return result
    assert outcome.reply is not None
    reply = outcome.reply
    result.prompt_tokens, result.completion_tokens = reply.prompt_tokens, reply.completion_tokens
    if plan.config.mode == "cloze":
        _score_cloze(plan, sample, reply, None if unconditional is None else unconditional.reply, result)
    else:
        _score(plan, sample, reply, result)
    return result


def timing_fields(outcome: Outcome) -> dict[str, Any]:
    """The sample's serving numbers (``SampleResult`` field names), from the attempt that answered.

    Nothing for a sample answered from the cache (it was not timed in this run) or not answered.
    E2E always; TTFT, ITL and TPOT only for a streamed reply. Output tokens are the server's
    usage count, else (a stream without usage) the number of content chunks. TPOT is
    (E2E - TTFT) / (output tokens - 1), undefined for replies of fewer than two tokens.
    """
    reply = outcome.reply
    if outcome.cached or reply is None or outcome.latency_s is None:
        return {}
    fields: dict[str, Any] = {"e2e_s": round(outcome.latency_s, 6), "sent_at": outcome.sent_at,
                              "output_tokens": reply.completion_tokens}
    if not reply.streamed:
        return fields
    tokens = reply.completion_tokens if reply.completion_tokens is not None else reply.content_chunks
    fields.update(streamed=True, ttft_s=reply.ttft_s, itl_s=list(reply.itl_s or []), output_tokens=tokens)
    if reply.ttft_s is not None and tokens is not None and tokens > 1:
        fields["tpot_s"] = round(max(0.0, outcome.latency_s - reply.ttft_s) / (tokens - 1), 6)
    return fields


def _score(plan: SuitePlan, sample: Sample, reply: Reply, result: SampleResult) -> None:
    assert sample.target is not None  # plan building rejects unanswered samples
    if plan.config.mode == "ll":
        if reply.logprobs is None or len(reply.logprobs) != len(sample.labels):
            result.error = f"backend returned {0 if reply.logprobs is None else len(reply.logprobs)} log-likelihoods for {len(sample.labels)} options"
            return
        result.extracted = pick_by_loglikelihood(reply.logprobs, sample.labels)
        result.rule = rules.LOG_LIKELIHOOD
        result.reply = " ".join(f"{label}:{lp:.4f}" for label, lp in zip(sample.labels, reply.logprobs))
        result.set_verdict(result.extracted == sample.target)
        return
    result.reply = reply.text
    scored = score_reply(
        plan.config.task, reply.text, sample.target, labels=sample.labels, choices=sample.choices,
        options=plan.config.scoring, fields=sample.fields,
    )
    result.extracted = scored.extracted
    result.set_verdict(scored.correct, scored.score)
    result.rule, result.unparsed = scored.rule, scored.unparsed


def _score_cloze(plan: SuitePlan, sample: Sample, reply: Reply, unconditional: Reply | None,
                 result: SampleResult) -> None:
    """Every cloze rule's pick; the suite's metric decides ``correct`` (the subject score and gate)."""
    assert sample.target is not None  # plan building rejects unanswered samples
    texts = _cloze_texts(sample)
    for got in (reply, unconditional):
        if got is not None and (got.logprobs is None or len(got.logprobs) != len(texts)):
            result.error = (f"backend returned {0 if got.logprobs is None else len(got.logprobs)} log-likelihoods "
                            f"for {len(texts)} options")
            return
    assert reply.logprobs is not None
    n, after_nothing = len(sample.choices), None if unconditional is None else unconditional.logprobs
    scores = cloze_scores(reply.logprobs[:n], sample.choices, sample.labels, sample.target,
                          None if after_nothing is None else after_nothing[:n])
    metric = cloze_metric(plan.config.scoring)
    picks, metrics = dict(scores.picks), dict(scores.metrics)
    if metric == "mc1" or "mc2_choices" in sample.fields:  # TruthfulQA's name for acc over the MC1 answers
        picks["mc1"], metrics["mc1"] = picks["acc"], metrics["acc"]
    if "mc2_choices" in sample.fields:
        by_text = dict(zip(texts, reply.logprobs))
        metrics["mc2"] = truthfulqa_mc2([by_text[t] for t in sample.fields["mc2_choices"]], sample.fields["mc2_labels"])
    result.logprobs = list(reply.logprobs)
    result.unconditional = None if after_nothing is None else list(after_nothing)
    result.picks, result.metrics = picks, metrics
    result.extracted, result.rule = picks.get(metric, picks["acc"]), rules.LOG_LIKELIHOOD
    result.reply = " ".join(f"{label}:{lp:.4f}" for label, lp in zip(sample.labels, reply.logprobs))
    if metric in GRADED_METRICS:  # right: most of the probability is on the true answers
        result.set_verdict(metrics[metric] > 0.5, metrics[metric])
    else:
        result.set_verdict(metrics[metric] == 1.0)
