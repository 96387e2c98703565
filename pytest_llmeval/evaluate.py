"""One sample, one model: build the request, ask the backend, score the reply.

The outcome is always a ``SampleResult``: backend failures become ``error`` (never a miss), so
the item, the summary and the reports all read the same record.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable

from .backends.base import GenerateRequest, LoglikelihoodRequest, Reply
from .errors import BackendError, FatalBackendError, SampleRejected
from .profiles import ModelSpec
from .prompts import render_messages_text
from .results.payload import SampleResult
from .runtime import Runtime
from .samples import Sample
from .scoring import pick_by_loglikelihood, score_reply
from .suites.plan import SubjectPlan, SuitePlan

__all__ = ["evaluate_sample", "generation_request"]

Request = GenerateRequest | LoglikelihoodRequest


def generation_request(model: ModelSpec, plan: SuitePlan, messages: tuple[dict[str, str], ...]) -> GenerateRequest:
    """Generation settings: what the user pinned (CLI/profile) wins, then the suite, then defaults."""
    s, gen = model.settings, plan.config.generation
    pinned = model.generation_fixed
    max_tokens = s.max_tokens if "max_tokens" in pinned or gen.max_tokens is None else gen.max_tokens
    temperature = s.temperature if "temperature" in pinned or gen.temperature is None else gen.temperature
    stop = s.stop if "stop" in pinned or gen.stop is None else tuple(gen.stop)
    return GenerateRequest(messages=messages, max_tokens=max_tokens, temperature=temperature, stop=tuple(stop))


def _request(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample) -> tuple[str, Request]:
    """The recorded prompt and the request, built once before anything is sent."""
    if plan.config.mode == "ll":
        context = plan.prompt.text(sample, subject.examples)
        return context, LoglikelihoodRequest(context=context, continuations=plan.prompt.continuations(sample.labels))
    messages = plan.prompt.messages(sample, subject.examples)
    return render_messages_text(messages), generation_request(model, plan, messages)


def evaluate_sample(
    runtime: Runtime, model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample, nodeid: str
) -> SampleResult:
    result = SampleResult(
        model=model.name, suite=plan.name, subject=subject.subject, id=sample.id, version=subject.version,
        nodeid=nodeid, task=plan.config.task, mode=plan.config.mode, groups=list(subject.groups),
        threshold=subject.threshold, group_thresholds=dict(subject.group_thresholds), target=sample.target,
    )
    result.prompt, request = _request(model, plan, subject, sample)
    started = time.perf_counter()
    try:
        backend = runtime.backend(model.name)
        reply = backend.loglikelihood(request) if isinstance(request, LoglikelihoodRequest) else backend.generate(request)
        if inspect.isawaitable(reply):  # an async backend
            reply = asyncio.run(_awaited(reply))
    except SampleRejected as exc:
        result.rejected, result.correct = exc.reason, False
        result.latency_s = round(time.perf_counter() - started, 6)
        return result
    except FatalBackendError as exc:
        runtime.mark_fatal(model.name, str(exc))
        result.error, result.fatal = str(exc), True
        return result
    except BackendError as exc:
        result.error = str(exc)
        result.latency_s = round(time.perf_counter() - started, 6)
        return result
    result.latency_s = round(reply.latency_s or (time.perf_counter() - started), 6)
    result.prompt_tokens, result.completion_tokens = reply.prompt_tokens, reply.completion_tokens
    _score(plan, sample, reply, result)
    return result


async def _awaited(reply: Awaitable[Reply]) -> Reply:
    return await reply


def _score(plan: SuitePlan, sample: Sample, reply: Reply, result: SampleResult) -> None:
    assert sample.target is not None  # plan building rejects unanswered samples
    if plan.config.mode == "ll":
        if reply.logprobs is None or len(reply.logprobs) != len(sample.labels):
            result.error = f"backend returned {0 if reply.logprobs is None else len(reply.logprobs)} log-likelihoods for {len(sample.labels)} options"
            return
        result.extracted = pick_by_loglikelihood(reply.logprobs, sample.labels)
        result.reply = " ".join(f"{label}:{lp:.4f}" for label, lp in zip(sample.labels, reply.logprobs))
        result.correct = result.extracted == sample.target
        return
    result.reply = reply.text
    scored = score_reply(
        plan.config.task, reply.text, sample.target, labels=sample.labels, choices=sample.choices,
        options=plan.config.scoring,
    )
    result.extracted, result.correct = scored.extracted, scored.correct
