"""Suite files as pytest collectors: file -> subject -> one item per (sample, model).

Node ids read ``path/suite.llmeval.yaml::subject::sample_id[model]`` and never change while the
data does not, so baselines and ``--deselect`` keep working. The suite and group names are extra
keywords, so ``-k "stem and not hard"`` selects on them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ConfigError, LLMEvalError
from ..identity import SAMPLE, SampleIdentity
from ..engine.dispatch import Outcome
from ..item_outcome import RESULT, raise_for_result
from ..results.payload import SampleResult
from ..runtime import RUNTIME
from ..samples import Sample
from ..yamlfile import load_validated
from .checks import node_name
from .evaluate import apply_outcome, new_result, sample_request, unconditional_request
from .plan import SubjectPlan, SuitePlan, build_plan
from .schema import SuiteConfig

if TYPE_CHECKING:
    from ..profiles import ModelSpec

__all__ = ["RESULT", "SampleItem", "SuiteFile", "check_streamed", "queue_upcoming"]

_QUEUED = pytest.StashKey[tuple[str, "Future[Outcome]", "Future[Outcome] | None"]]()


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
            plan = build_plan(config, self.path, where, runtime.options.limit)
            check_streamed(config.latency, runtime.models, "latency.")
            check_loglikelihood(config, runtime.models)
        except ConfigError as exc:
            raise self.CollectError(str(exc) if exc.where else f"{where}: {exc}") from None
        self.extra_keyword_matches.add(plan.name)
        for subject in plan.subjects:
            yield SubjectNode.from_parent(self, name=node_name(subject.subject), plan=plan, subject_plan=subject)


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
        """Build this sample's request and hand it to the model's queue (once)."""
        if _QUEUED in self.stash:
            return
        runtime = self.config.stash[RUNTIME]
        spec = runtime.model(self.model)
        prompt, request = sample_request(spec, self.plan, self.subject_plan, self.sample)
        dispatcher = runtime.dispatcher(self.model)
        unconditional = unconditional_request(self.plan, self.sample)
        self.stash[_QUEUED] = (prompt, dispatcher.submit(request),
                               None if unconditional is None else dispatcher.submit(unconditional))

    def skeleton(self) -> SampleResult:
        """This sample's result before it is answered: everything but the answer."""
        spec = self.config.stash[RUNTIME].model(self.model)
        return new_result(spec, self.plan, self.subject_plan, self.sample, self.nodeid)

    def runtest(self) -> None:
        runtime = self.config.stash[RUNTIME]
        queue_upcoming(self)
        self.queue_request()
        prompt, future, unconditional = self.stash[_QUEUED]
        result = self.skeleton()
        result.prompt = prompt
        self.stash[RESULT] = apply_outcome(result, self.plan, self.sample, future.result(),
                                           None if unconditional is None else unconditional.result())
        raise_for_result(result, self.session, runtime.options.strict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (LLMEvalError, AssertionError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.plan.name}::{self.subject_plan.subject}::{self.sample.id}[{self.model}]"
