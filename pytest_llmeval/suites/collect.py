"""Suite files as pytest collectors: file -> subject -> one item per (sample, model).

Node ids read ``path/suite.llmeval.yaml::subject::sample_id[model]`` and never change while the
data does not, so baselines and ``--deselect`` keep working. The suite and group names are extra
keywords, so ``-k "stem and not hard"`` selects on them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import Cancelled, ConfigError, LLMEvalError
from ..identity import SAMPLE, SampleIdentity
from ..engine.dispatch import Outcome
from ..item_outcome import RESULT, raise_for_result
from ..results.payload import SampleResult
from ..runtime import RUNTIME, Runtime
from ..samples import Sample
from ..scoring.tasks import REGISTRY
from ..yamlfile import load_validated
from .checks import node_name
from .evaluate import (apply_outcome, attempt_requests, check_repeats, combine_attempts, judge_after, judge_request,
                       new_result, pairwise_after, unconditional_request)
from .plan import SubjectPlan, SuitePlan, build_plan
from .schema import SuiteConfig

if TYPE_CHECKING:
    from ..profiles import ModelSpec

__all__ = ["RESULT", "SampleItem", "SuiteFile", "check_streamed", "queue_upcoming"]

_QUEUED = pytest.StashKey["list[Future[SampleResult]] | tuple[str, list[Future[Outcome]]]"]()
_JUDGED = pytest.StashKey["tuple[str, list[Future[Outcome | None]]]"]()  # one verdict per attempt
_PAIRED = pytest.StashKey["Future[dict[str, Any] | None]"]()
_UNCONDITIONAL = pytest.StashKey["Future[Outcome]"]()  # mode: cloze with mutual information


def queue_upcoming(item: pytest.Item) -> None:
    """Queue the requests of the items this process will run next, before they run (``prefetch``)."""
    from .prefetch import items_to_queue

    runtime = item.config.stash[RUNTIME]
    shared = runtime.shared
    for upcoming in items_to_queue(item.session, item, xdist=shared.xdist, grouped=shared.grouped,
                                   state=runtime.prefetch_state()):
        try:
            upcoming.queue_request()
        except LLMEvalError:
            pass  # e.g. an unknown model: reported by that item itself when it runs


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        runtime = self.config.stash[RUNTIME]
        where = _relative(self.path, self.config.rootpath)
        try:
            config = load_validated(self.path, SuiteConfig, shown=where)
            plan = build_plan(config, self.path, where, runtime.options.limit, judge=_judge_identity(runtime, config))
            check_streamed(config.latency, runtime.models, "latency.")
            check_repeats(config, runtime.models)
            check_loglikelihood(config, runtime.models)
        except ConfigError as exc:
            raise self.CollectError(str(exc) if exc.where else f"{where}: {exc}") from None
        self.extra_keyword_matches.add(plan.name)
        for subject in plan.subjects:
            yield SubjectNode.from_parent(self, name=node_name(subject.subject), plan=plan, subject_plan=subject)


def _judge_identity(runtime: Runtime, config: SuiteConfig) -> dict[str, Any] | None:
    """What a suite's version records of its judge model (``task: judge``): the backend, model and
    settings that decide its verdicts, so another judge makes the results "not comparable"."""
    if not REGISTRY[config.task].judged:
        return None
    from ..scoring.options import validate_options

    validate_options(config.task, config.scoring)
    name = str(config.scoring["judge"])
    s = runtime.judge(name).settings
    return {"name": name, "backend": s.backend, "model": s.model, "base_url": s.base_url,
            "model_path": s.model_path, "options": s.extra, "max_tokens": s.max_tokens, "temperature": s.temperature}


def check_streamed(gates: Iterable[str], models: Iterable[ModelSpec], prefix: str) -> None:
    """TTFT, TPOT and ITL gates need every model of the run to stream; ConfigError naming the key."""
    from ..results.latency_gates import parse_gate_key, stream_only

    keys = stream_only(gates)
    unstreamed = [m.name for m in models if not m.settings.stream]
    if keys and unstreamed:
        metric = parse_gate_key(keys[0])[0]
        raise ConfigError(f"{metric} gates need --llm-stream (model {unstreamed[0]} does not stream)",
                          key=f"{prefix}{keys[0]}")


def check_loglikelihood(config: SuiteConfig, models: Iterable[ModelSpec]) -> None:
    """``mode: ll`` and ``cloze`` need every model's backend to score log-likelihoods, and cloze's
    mutual information needs them after an empty context; ConfigError naming ``mode`` or the key."""
    if config.mode not in ("ll", "cloze"):
        return
    from ..backends.base import Backend
    from ..backends.registry import resolve_backend_class
    from ..scoring.cloze import cloze_metric, wants_mutual_info

    for model in models:
        backend = resolve_backend_class(model.settings.backend)
        if backend.loglikelihood is Backend.loglikelihood and backend.loglikelihood_batch is Backend.loglikelihood_batch:
            raise ConfigError(f"model {model.name}: backend {model.settings.backend!r} cannot score log-likelihoods; "
                              f"use mode: gen", key="mode")
        if config.mode == "cloze" and wants_mutual_info(config.scoring) and not backend.scores_empty_context:
            key = "metric" if cloze_metric(config.scoring) == "acc_mutual_info" else "mutual_info"
            raise ConfigError(f"model {model.name}: backend {model.settings.backend!r} cannot score options after an "
                              "empty context (lm-eval's unconditional request); use hf or llamacpp",
                              key=f"scoring.{key}")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class SubjectNode(pytest.Collector):
    def __init__(self, *, plan: SuitePlan, subject_plan: SubjectPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan, self.subject_plan = plan, subject_plan
        self.extra_keyword_matches.update(subject_plan.groups)

    def collect(self) -> Iterator[pytest.Item]:
        models = [m.name for m in self.config.stash[RUNTIME].models]
        for sample in self.subject_plan.samples:
            for model in models:
                yield SampleItem.from_parent(
                    self, name=f"{node_name(sample.id)}[{model}]", plan=self.plan,
                    subject_plan=self.subject_plan, sample=sample, model=model,
                )


class SampleItem(pytest.Item):
    def __init__(self, *, plan: SuitePlan, subject_plan: SubjectPlan, sample: Sample, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan, self.subject_plan, self.sample, self.model = plan, subject_plan, sample, model
        self.stash[SAMPLE] = SampleIdentity(plan.name, subject_plan.subject, str(sample.id), "suite")
        self.add_marker(pytest.mark.llmeval)

    def queue_request(self) -> None:
        """Build this sample's requests (one per attempt) and hand them to the model's queue (once).
        A task that runs the reply's code is scored on the execution pool as each reply arrives."""
        if _QUEUED in self.stash:
            return
        runtime = self.config.stash[RUNTIME]
        spec = runtime.model(self.model)
        prompt, requests = attempt_requests(spec, self.plan, self.subject_plan, self.sample)
        dispatcher = runtime.dispatcher(self.model)
        futures = [dispatcher.submit(request) for request in requests]
        unconditional = unconditional_request(self.plan, self.sample)
        if unconditional is not None:
            self.stash[_UNCONDITIONAL] = dispatcher.submit(unconditional)
        self._queue_judges(futures, requests)
        if not REGISTRY[self.plan.config.task].executes:
            self.stash[_QUEUED] = (prompt, futures)
            return
        executions = runtime.executions()
        self.stash[_QUEUED] = [executions.then(future, partial(self._scored, self._answered(prompt)))
                               for future in futures]

    def _answered(self, prompt: str) -> SampleResult:
        result = self.skeleton()
        result.prompt = prompt
        return result

    def _scored(self, result: SampleResult, outcome: Outcome) -> SampleResult:
        unconditional = self.stash[_UNCONDITIONAL].result() if _UNCONDITIONAL in self.stash else None
        return apply_outcome(result, self.plan, self.sample, outcome, unconditional=unconditional)

    def _queue_judges(self, replies: list[Future[Outcome]], requests: list[Any]) -> None:
        """A judged task: each attempt's reply goes to the judge as soon as it arrives. Pairwise
        judging (``--llm-judge-pairwise``): this run's reply against the baseline's, which holds
        one reply per sample, so only for a suite of one attempt per sample."""
        runtime = self.config.stash[RUNTIME]
        if REGISTRY[self.plan.config.task].judged:
            name = str(self.plan.config.scoring["judge"])
            judge, queue = runtime.judge(name), runtime.dispatcher(name)
            self.stash[_JUDGED] = (name, [
                judge_after(reply, partial(self._ask_judge, judge, queue, request))
                for reply, request in zip(replies, requests)])
        old = self._baseline_reply() if runtime.options.judge_pairwise and len(replies) == 1 else None
        if old is not None and runtime.options.judge is not None:
            pair_judge, pair_queue = runtime.judge(runtime.options.judge), runtime.dispatcher(runtime.options.judge)
            self.stash[_PAIRED] = pairwise_after(replies[0], old, pair_judge, requests[0], self.sample,
                                                 pair_queue.submit)

    def _ask_judge(self, judge: ModelSpec, queue: Any, request: Any, text: str) -> Future[Outcome]:
        return queue.submit(judge_request(judge, self.plan, self.sample, request, text))

    def _attempts(self) -> list[SampleResult]:
        queued = self.stash[_QUEUED]
        if isinstance(queued, tuple):
            prompt, futures = queued
            if _JUDGED in self.stash:
                name, verdicts = self.stash[_JUDGED]
                return [apply_outcome(self._answered(prompt), self.plan, self.sample, future.result(),
                                      (name, verdict.result())) for future, verdict in zip(futures, verdicts)]
            return [self._scored(self._answered(prompt), future.result()) for future in futures]
        results = []
        for future in queued:
            try:
                results.append(future.result())
            except Cancelled as exc:  # the run stopped before this attempt's code ran
                results.append(replace(self._answered(""), error=str(exc)))
        return results

    def _baseline_reply(self) -> str | None:
        """The baseline's reply to this sample, for ``--llm-judge-pairwise``: only from a baseline
        subject of the same version (another version is "not comparable"), and only a generated one."""
        baseline = self.config.stash[RUNTIME].pairwise_baseline()
        model = baseline.model_for(self.model) if baseline is not None else None
        subject = baseline.subject(model, self.plan.name, self.subject_plan.subject) if model is not None else None
        if subject is None or subject.version != self.subject_plan.version or self.plan.config.mode != "gen":
            return None
        entry = subject.samples.get(str(self.sample.id))
        return entry.reply if entry is not None else None

    def skeleton(self) -> SampleResult:
        """This sample's result before it is answered: everything but the answer."""
        spec = self.config.stash[RUNTIME].model(self.model)
        return new_result(spec, self.plan, self.subject_plan, self.sample, self.nodeid)

    def runtest(self) -> None:
        runtime = self.config.stash[RUNTIME]
        queue_upcoming(self)
        self.queue_request()
        result = self.stash[RESULT] = combine_attempts(self._attempts(), self.plan.config.pass_at_k)
        if _PAIRED in self.stash and result.error is None and result.not_asked is None:
            result.pairwise = self.stash[_PAIRED].result()
        raise_for_result(result, self.session, runtime.options.strict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (LLMEvalError, AssertionError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.plan.name}::{self.subject_plan.subject}::{self.sample.id}[{self.model}]"
