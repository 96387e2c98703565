"""One sample, one model: build the request, get its outcome from the engine, score the reply.

The outcome is always a ``SampleResult``: backend failures become ``error`` (never a miss), a
policy refusal is a miss with its reason, so the item, the summary and the reports all read the
same record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from ..engine.dispatch import Outcome
from ..errors import ConfigError, FatalBackendError, SandboxError
from ..messages import GenerateRequest, LoglikelihoodRequest, Reply
from ..profiles import ModelSpec
from ..prompts import render_messages_text
from ..results.payload import SampleResult
from ..samples import Sample
from ..scoring import judge_task, pass_at_k, pick_by_loglikelihood, rules, score_reply
from ..scoring.cloze import (
    GRADED_METRICS, cloze_continuations, cloze_metric, cloze_scores, truthfulqa_mc2, wants_mutual_info,
)
from ..scoring.tasks import REGISTRY, metric_name
from .plan import SubjectPlan, SuitePlan
from .schema import SuiteConfig

__all__ = [
    "apply_outcome", "attempt_requests", "check_repeats", "combine_attempts", "generation_request", "judge_after",
    "judge_request", "new_result", "pairwise_after", "sample_request", "timing_fields", "unconditional_request",
]

Request = GenerateRequest | LoglikelihoodRequest


def generation_request(model: ModelSpec, plan: SuitePlan, messages: tuple[dict[str, str], ...]) -> GenerateRequest:
    """Generation settings: what the user pinned (CLI/profile) wins, then the suite, then defaults."""
    s, gen = model.settings, plan.config.generation
    pinned = model.generation_fixed
    max_tokens = s.max_tokens if "max_tokens" in pinned or gen.max_tokens is None else gen.max_tokens
    temperature = effective_temperature(model, plan.config)
    stop = s.stop if "stop" in pinned or gen.stop is None else tuple(gen.stop)
    return GenerateRequest(messages=messages, max_tokens=max_tokens, temperature=temperature, stop=tuple(stop))


def effective_temperature(model: ModelSpec, config: SuiteConfig) -> float:
    """The temperature ``model`` samples ``config``'s suite at: a pinned one (CLI, profile) wins."""
    pinned, temperature = "temperature" in model.generation_fixed, config.generation.temperature
    return model.settings.temperature if pinned or temperature is None else temperature


def check_repeats(config: SuiteConfig, models: list[ModelSpec]) -> None:
    """``repeats`` > 1 at temperature 0 would ask for the same greedy reply k times: ConfigError."""
    if config.repeats == 1:
        return
    for model in models:
        if effective_temperature(model, config) == 0:
            raise ConfigError(f"{config.repeats} attempts at temperature 0 (model {model.name}) would be copies of "
                              "one reply; set generation.temperature above 0 (e.g. 0.8), or repeats: 1",
                              key="repeats")


def attempt_requests(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan,
                     sample: Sample) -> tuple[str, list[Request]]:
    """The recorded prompt and one request per attempt: attempt i sampled with seed i, so each is
    its own journal entry (one attempt: the request as ``sample_request`` builds it)."""
    prompt, request = sample_request(model, plan, subject, sample)
    repeats = plan.config.repeats
    if repeats == 1 or not isinstance(request, GenerateRequest):
        return prompt, [request]
    return prompt, [replace(request, seed=i) for i in range(repeats)]


def combine_attempts(results: list[SampleResult], pass_at: list[int]) -> SampleResult:
    """One problem's attempts as its one result (one item, one samples.jsonl row).

    Each attempt's reply, answer, rule and verdict are kept in ``attempts``; ``pass_at`` holds the
    unbiased pass@k (Chen et al.) for 1 and every k asked for, pass@1 being the pass rate;
    ``correct`` is pass^k: every attempt right; ``score`` is pass@1, the pass rate (for a graded
    task, the mean of the attempts' scores), and the subject averages it (``aggregate="mean"``:
    the mean of per-problem pass@1, with a bootstrap interval, and the baseline's paired test). An attempt that failed (backend, sandbox) makes the
    sample an error: its pass@k would be computed from fewer replies than asked for; an attempt
    not asked (``errors.NotAsked``) makes it not asked, for the same reason.
    """
    if len(results) == 1:
        return results[0]
    first = results[0]
    combined = replace(first, retries=sum(r.retries for r in results), cached=all(r.cached for r in results),
                       attempts=[_attempt_record(r) for r in results],
                       prompt_tokens=_summed(r.prompt_tokens for r in results),
                       completion_tokens=_summed(r.completion_tokens for r in results),
                       tokens_estimated=any(r.tokens_estimated for r in results))
    failed = next(((i, r) for i, r in enumerate(results) if r.error is not None), None)
    if failed is not None:
        index, result = failed
        combined.error = f"attempt {index + 1} of {len(results)}: {result.error}"
        combined.fatal, combined.correct, combined.score = result.fatal, None, None
        return combined
    skipped = next((r for r in results if r.not_asked is not None), None)
    if skipped is not None:  # pass@k from fewer attempts than asked for would be another statistic
        combined.set_not_asked(skipped.not_asked or "", all(r.not_asked_complete for r in results if r.not_asked))
        return combined
    right = sum(bool(r.correct) for r in results)
    n = len(results)
    combined.pass_at = {f"pass@{k}": round(pass_at_k(n, right, k), 6) for k in sorted({1, *pass_at})}
    graded = first.aggregate == "mean"
    points = [r.points() or 0.0 for r in results]
    combined.set_verdict(right == n, math.fsum(points) / n if graded else combined.pass_at["pass@1"])
    combined.aggregate = "mean"
    combined.unparsed = all(r.unparsed for r in results)
    return combined


def _summed(counts: Iterable[int | None]) -> int | None:
    """Every attempt's tokens (the problem's usage); None when no attempt has a count."""
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


def _attempt_record(result: SampleResult) -> dict[str, Any]:
    return {"reply": result.reply, "extracted": result.extracted, "rule": result.rule, "correct": result.correct,
            "score": result.score, "error": result.error, "rejected": result.rejected, "cached": result.cached}


def sample_request(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample) -> tuple[str, Request]:
    """The recorded prompt and the request, built once before anything is sent."""
    prompt = plan.prompt if sample.template is None else replace(plan.prompt, prompt=sample.template)
    if plan.config.mode == "ll":
        context = prompt.text(sample, subject.examples)
        return context, LoglikelihoodRequest(context=context, continuations=prompt.continuations(sample.labels))
    if plan.config.mode == "cloze":  # the option texts after the delimiter, as lm-eval's continuations
        context = prompt.text(sample, subject.examples)
        return context, LoglikelihoodRequest(context, cloze_continuations(_cloze_texts(sample), plan.config.target_delimiter))
    messages = prompt.messages(sample, subject.examples)
    return render_messages_text(messages), generation_request(model, plan, messages)


def judge_request(judge: ModelSpec, plan: SuitePlan, sample: Sample, request: Request, reply: str) -> GenerateRequest:
    """The judge's request for one reply (``task: judge``): the question as the model was asked it
    (the last message of its request), the reply, and the sample's answer as the reference. The
    judge's own profile decides its generation settings, never the suite's."""
    assert isinstance(request, GenerateRequest)
    question = request.messages[-1]["content"]
    messages = judge_task.request_messages(plan.config.scoring, question, reply, sample.target)
    s = judge.settings
    return GenerateRequest(messages=messages, max_tokens=s.max_tokens, temperature=s.temperature, stop=tuple(s.stop))


def judge_after(reply: Future[Outcome], ask: Callable[[str], Future[Outcome]]) -> Future[Outcome | None]:
    """The judge's outcome, asked for as soon as the reply arrives (not when the item runs), so
    judging overlaps with the replies still being generated; None when there is no reply to judge
    (an error or a refusal, which the item reports as it would without a judge)."""
    judged: Future[Outcome | None] = Future()

    def chain(done: Future[Outcome | None] | Future[Outcome], into: Future[Outcome | None]) -> None:
        try:
            into.set_result(done.result())
        except BaseException as exc:  # noqa: BLE001 - handed to the item, which raises it
            into.set_exception(exc)

    def on_reply(done: Future[Outcome]) -> None:
        try:
            outcome = done.result()
            if outcome.reply is None:
                judged.set_result(None)
                return
            ask(outcome.reply.text).add_done_callback(lambda j: chain(j, judged))
        except BaseException as exc:  # noqa: BLE001 - handed to the item, which raises it
            if not judged.done():
                judged.set_exception(exc)

    reply.add_done_callback(on_reply)
    return judged


def pairwise_after(reply: Future[Outcome], old: str, judge: ModelSpec, request: Request, sample: Sample,
                   submit: Callable[[GenerateRequest], Future[Outcome]]) -> Future[dict[str, Any] | None]:
    """``--llm-judge-pairwise``: once this run's reply arrives, the judge compares it with the
    baseline's reply ``old`` to the same sample, asked in both orders (``judge.combine_orders``).
    The record for ``SampleResult.pairwise``: the outcome (win, tie, loss, unparsed), each order's
    verdict and the judge's replies; ``error`` when the judge could not answer. Identical replies
    are a tie without asking. None when there is no reply to compare."""
    from ..scoring.judge import combine_orders, pairwise_messages, parse_preference

    assert isinstance(request, GenerateRequest)
    question, s = request.messages[-1]["content"], judge.settings
    record: Future[dict[str, Any] | None] = Future()

    def ask(first: str, second: str) -> Future[Outcome]:
        messages = pairwise_messages(question, first, second, reference=sample.target)
        return submit(GenerateRequest(messages=messages, max_tokens=s.max_tokens, temperature=s.temperature,
                                      stop=tuple(s.stop)))

    def combine(orders: list[Future[Outcome]]) -> None:
        outcomes = [o.result() for o in orders]
        failed = next((o for o in outcomes if o.reply is None), None)
        if failed is not None:
            why = failed.error if failed.error is not None else f"refused to judge: {failed.rejected}"
            record.set_result({"judge": judge.name, "error": f"judge {judge.name}: {why}"})
            return
        texts = [o.reply.text for o in outcomes if o.reply is not None]
        verdicts = [parse_preference(text) for text in texts]
        record.set_result({"judge": judge.name, "outcome": combine_orders(*verdicts),
                           "orders": [v.value for v in verdicts], "replies": texts})

    def on_reply(done: Future[Outcome]) -> None:
        try:
            outcome = done.result()
            if outcome.reply is None:
                record.set_result(None)
            elif outcome.reply.text == old:
                record.set_result({"judge": judge.name, "outcome": "tie", "orders": [], "identical": True})
            else:
                orders = [ask(outcome.reply.text, old), ask(old, outcome.reply.text)]
                orders[1].add_done_callback(lambda _: orders[0].add_done_callback(lambda _: _safely(combine, orders)))
        except BaseException as exc:  # noqa: BLE001 - handed to the item, which raises it
            if not record.done():
                record.set_exception(exc)

    def _safely(step: Callable[[list[Future[Outcome]]], None], orders: list[Future[Outcome]]) -> None:
        try:
            step(orders)
        except BaseException as exc:  # noqa: BLE001
            if not record.done():
                record.set_exception(exc)

    reply.add_done_callback(on_reply)
    return record


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
    if plan.config.mode == "cloze":
        return cloze_metric(plan.config.scoring)
    return metric_name(plan.config.task, plan.config.scoring)


def new_result(model: ModelSpec, plan: SuitePlan, subject: SubjectPlan, sample: Sample, nodeid: str) -> SampleResult:
    task = REGISTRY[plan.config.task]
    return SampleResult(
        model=model.name, suite=plan.name, subject=subject.subject, id=sample.id, version=subject.version,
        nodeid=nodeid, task=task.name, mode=plan.config.mode, metric=_metric_name(plan),
        aggregate="mean" if _metric_name(plan) in GRADED_METRICS else task.aggregate,
        metric_settings=task.settings(plan.config.scoring) if task.settings else None,
        groups=list(subject.groups),
        threshold=subject.threshold, max_unparsed=plan.config.max_unparsed,
        group_thresholds=dict(subject.group_thresholds), target=sample.target,
        group_aggregates=dict(subject.group_aggregates),
        latency_gates=dict(plan.config.latency),
        robustness=_robustness(plan, sample),
        min_consistency=plan.config.perturb.min_consistency if plan.config.perturb else None,
        question=sample.question, variant=sample.variant, variants=sample.variants,
    )


def _robustness(plan: SuitePlan, sample: Sample) -> str | None:
    """How the sample's question aggregates its variants: ``circular`` or ``perturb`` (None: plain)."""
    if sample.question is None:
        return None
    return "circular" if plan.config.circular is not None else "perturb"


def apply_outcome(result: SampleResult, plan: SuitePlan, sample: Sample, outcome: Outcome,
                  judged: tuple[str, Outcome | None] | None = None,
                  unconditional: Outcome | None = None) -> SampleResult:
    """Fill ``result`` from what the engine got for the sample's request; for a judged task
    ``judged``: the judge's name and what the engine got for its request; for a cloze sample asking
    for mutual information, its ``unconditional_request`` (either one failing fails the sample)."""
    if unconditional is not None and (unconditional.error is not None or unconditional.rejected is not None
                                      or unconditional.not_asked is not None):
        outcome = unconditional
    if outcome.not_asked is not None:
        result.set_not_asked(outcome.not_asked.reason, outcome.not_asked.complete)
        return result
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
    result.tokens_estimated = reply.usage_estimated
    if plan.config.mode == "cloze":
        _score_cloze(plan, sample, reply, None if unconditional is None else unconditional.reply, result)
        return result
    if judged is None:
        _score(plan, sample, reply, result)
        return result
    result.reply = reply.text
    name, verdict = judged
    if verdict is not None:
        _judge(plan, sample, name, verdict, result)
    return result


def _judge(plan: SuitePlan, sample: Sample, name: str, outcome: Outcome, result: SampleResult) -> None:
    """The judge's outcome into the result: its failure is the sample's error (the sample was not
    measured: never a miss), its refusal too; its reply is scored by the task."""
    result.judge = {"model": name, "retries": outcome.retries, "cached": outcome.cached}
    if outcome.not_asked is not None:  # the reply was not judged: the sample was not measured
        result.reply = None
        result.set_not_asked(f"judge {name}: {outcome.not_asked.reason}", outcome.not_asked.complete)
        return
    if outcome.error is not None:
        result.error = f"judge {name}: {outcome.error}"
        result.fatal = isinstance(outcome.error, FatalBackendError)
        return
    if outcome.rejected is not None:
        result.error = f"judge {name} refused to judge: {outcome.rejected}"
        return
    assert outcome.reply is not None and sample.target is not None
    result.judge["reply"] = outcome.reply.text
    result.judge.update(prompt_tokens=outcome.reply.prompt_tokens, completion_tokens=outcome.reply.completion_tokens,
                        tokens_estimated=outcome.reply.usage_estimated)  # the judge's own usage (``results.usage``)
    scored = score_reply(plan.config.task, outcome.reply.text, sample.target, labels=sample.labels,
                         choices=sample.choices, options=plan.config.scoring, fields=sample.fields)
    result.extracted = scored.extracted
    result.set_verdict(scored.correct, scored.score)
    result.rule, result.unparsed = scored.rule, scored.unparsed


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
    counted = None if reply.usage_estimated else reply.completion_tokens  # the server's count, never an estimate
    fields: dict[str, Any] = {"e2e_s": round(outcome.latency_s, 6), "sent_at": outcome.sent_at,
                              "output_tokens": counted}
    if not reply.streamed:
        return fields
    tokens = counted if counted is not None else reply.content_chunks
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
    try:
        scored = score_reply(
            plan.config.task, reply.text, sample.target, labels=sample.labels, choices=sample.choices,
            options=plan.config.scoring, fields=sample.fields,
        )
    except SandboxError as exc:  # no program could run: never a miss
        result.error = f"the sandbox could not run this sample's code: {exc}"
        return
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
