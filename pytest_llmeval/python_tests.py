"""Custom logic as ordinary tests: ``@llmeval.dataset`` parametrises a test over a data file, the
``llm`` fixture talks to each model, and every parametrised case counts as one sample of its subject.

A failed ``assert`` in such a test is a miss (not a failure, unless ``--llm-strict``), exactly as a
wrong answer in a suite file; a backend failure is an error.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from .data import DataSpec, load
from .data.formats import format_for_suffix
from .errors import BackendError, ConfigError, FatalBackendError, NotAsked, SampleRejected, one_line
from .messages import GenerateRequest, LoglikelihoodRequest, Message, Reply
from .profiles import ModelSpec
from .prompts import render_messages_text
from .results.payload import SampleResult
from .runtime import RUNTIME, Runtime
from .suites.evaluate import timing_fields
from .suites.plan import choose_limited

__all__ = [
    "DatasetSample", "Judgement", "LLMClient", "UnreadableVerdict", "dataset", "parametrize", "result_for_test",
    "sample_skeleton",
]

DATASET_MARK = "llm_dataset"
THRESHOLD_MARK = "llm_threshold"
LATENCY_MARK = "llm_latency"


def dataset(
    path: str, *, subject: str | None = None, format: str | None = None,
    fields: dict[str, str | list[str]] | None = None, split: str | None = None, limit: int | None = None,
) -> pytest.MarkDecorator:
    """Parametrise the test's ``sample`` argument over a data file (relative to the test file)."""
    return pytest.mark.llm_dataset(path, subject=subject, format=format, fields=fields or {}, split=split, limit=limit)


class DatasetSample(dict[str, Any]):
    """What the test receives as ``sample``: the row's fields, plus ``id``, ``subject`` and ``target``."""

    meta: dict[str, Any]


class UnreadableVerdict(BackendError):
    """``llm.judge``: the judge's reply has no verdict that can be read. The test then errors (it
    measured nothing); it never passes or misses on a guessed verdict."""


@dataclass(frozen=True)
class Judgement:
    """What ``llm.judge`` decided: truthy when the judge said PASS. ``reply`` is the judge's text,
    its reasoning and verdict, shown in an assertion's message."""

    passed: bool
    verdict: str
    reply: str
    judge: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Judgement({self.verdict} by {self.judge}: {self.reply.strip()[-300:]!r})"


@dataclass
class LLMClient:
    """The ``llm`` fixture: one model, with the run's generation settings and a record of the calls."""

    runtime: Runtime
    spec: ModelSpec
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    def generate(self, prompt: str | Sequence[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: Sequence[str] | None = None, system: str | None = None) -> str:
        messages: tuple[Message, ...] = (
            ({"role": "system", "content": system},) if system else ()
        ) + (({"role": "user", "content": prompt},) if isinstance(prompt, str) else tuple(prompt))
        s = self.spec.settings
        request = GenerateRequest(
            messages=messages, max_tokens=max_tokens or s.max_tokens,
            temperature=s.temperature if temperature is None else temperature,
            stop=tuple(s.stop if stop is None else stop),
        )
        reply = self._call(request, render_messages_text(messages))
        return str(reply.text)

    def judge(self, reply: str, criterion: str | Sequence[str], *, question: str | None = None,
              reference: str | None = None, judge: str | None = None) -> Judgement:
        """Has the judge model (``judge``, else ``--llm-judge``) decide whether ``reply`` meets
        ``criterion`` (one or a list), PASS or FAIL, with the judge prompt of ``task: judge``:
        ``assert llm.judge(reply, "It names Paris as the capital.")``. Through the judge's engine
        queue (journal, retries, rate limit); an unreadable verdict raises ``UnreadableVerdict``."""
        from .scoring.judge import Rubric, judge_messages, parse_verdict

        name = judge or self.runtime.options.judge
        if not name:
            raise ConfigError("llm.judge needs a judge model: --llm-judge=PROFILE, or judge='profile'", key="--llm-judge")
        criteria = (criterion,) if isinstance(criterion, str) else tuple(criterion)
        rubric = Rubric.from_record({"criteria": list(criteria)}, key="llm.judge criterion")
        spec = self.runtime.judge(name)
        s = spec.settings
        request = GenerateRequest(messages=judge_messages(rubric, question or "(not given)", reply, reference),
                                  max_tokens=s.max_tokens, temperature=s.temperature, stop=tuple(s.stop))
        outcome = self.runtime.dispatcher(name).submit(request).result()
        if outcome.not_asked is not None:
            raise outcome.not_asked
        if outcome.error is not None:
            raise outcome.error
        if outcome.rejected is not None:
            raise BackendError(f"judge {name} refused to judge: {outcome.rejected}")
        assert outcome.reply is not None
        verdict = parse_verdict(outcome.reply.text, rubric)
        if verdict.value is None:
            raise UnreadableVerdict(f"judge {name}: {verdict.problem}")
        return Judgement(verdict.value == "PASS", verdict.value, outcome.reply.text, name)

    def loglikelihood(self, context: str, continuations: Sequence[str]) -> list[float]:
        request = LoglikelihoodRequest(context=context, continuations=tuple(continuations))
        reply = self._call(request, context)
        return list(reply.logprobs or ())

    def _call(self, request: GenerateRequest | LoglikelihoodRequest, prompt: str) -> Reply:
        """Through the model's engine queue: the same retries, rate limit and cache as suite items."""
        outcome = self.runtime.dispatcher(self.name).submit(request).result()
        call: dict[str, Any] = {"prompt": prompt, "latency_s": outcome.latency_s, "retries": outcome.retries,
                                "cached": outcome.cached, "timing": timing_fields(outcome)}
        self.calls.append(call)
        if outcome.not_asked is not None:
            raise outcome.not_asked
        if outcome.error is not None:
            raise outcome.error
        if outcome.rejected is not None:
            call["rejected"] = outcome.rejected
            raise SampleRejected(outcome.rejected)
        reply = outcome.reply
        assert reply is not None
        call.update(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                    reply=reply.text if reply.logprobs is None else " ".join(f"{lp:.4f}" for lp in reply.logprobs))
        return reply


def _load_samples(metafunc: pytest.Metafunc, mark: pytest.Mark, limit: int | None) -> list[DatasetSample]:
    path_arg = mark.args[0] if mark.args else mark.kwargs.get("path")
    test_file = metafunc.definition.path
    where = f"{test_file.name}::{metafunc.definition.name}"
    if not isinstance(path_arg, str):
        raise ConfigError("llmeval.dataset needs a data path", where=where)
    path = (test_file.parent / path_arg).resolve()
    fmt = mark.kwargs.get("format") or format_for_suffix(path)
    if fmt is None:
        raise ConfigError(f"cannot tell the format of {path_arg!r}; pass format=", where=where)
    spec = DataSpec(format=fmt, path=path, split=mark.kwargs.get("split"), fields=mark.kwargs.get("fields") or {},
                    subject=mark.kwargs.get("subject"), where=where)
    source = inspect.getsource(metafunc.function)
    suite = test_file.stem
    params: list[DatasetSample] = []
    for subject, samples in sorted(load(spec).items()):
        digest = hashlib.sha256(repr((source, [(s.id, s.fields, s.target) for s in samples])).encode()).hexdigest()[:8]
        for s in choose_limited(samples, limit if limit is not None else mark.kwargs.get("limit"), f"{suite}/{subject}"):
            value = DatasetSample(s.fields, id=s.id, subject=s.subject, target=s.target)
            value.meta = {"suite": suite, "subject": subject, "id": s.id, "version": digest, "target": s.target}
            params.append(value)
    return params


def parametrize(metafunc: pytest.Metafunc) -> None:
    """Called from pytest_generate_tests: the ``sample`` and ``llm`` parameters."""
    config = metafunc.config
    runtime = config.stash[RUNTIME]
    _check_latency_mark(metafunc, runtime)
    mark = metafunc.definition.get_closest_marker(DATASET_MARK)
    if mark is not None and "sample" in metafunc.fixturenames:
        try:
            samples = _load_samples(metafunc, mark, runtime.options.limit)
        except ConfigError as exc:
            raise pytest.Collector.CollectError(str(exc)) from None
        metafunc.parametrize("sample", samples, ids=[f"{s.meta['subject']}-{s.meta['id']}" for s in samples])
    if "llm" in metafunc.fixturenames:
        names = [m.name for m in runtime.models]
        metafunc.parametrize("llm", names, indirect=True, ids=names)


def _check_latency_mark(metafunc: pytest.Metafunc, runtime: Runtime) -> None:
    """A bad ``llm_latency`` gate, or a streamed one in a run that does not stream, fails collection."""
    mark = metafunc.definition.get_closest_marker(LATENCY_MARK)
    if mark is None:
        return
    from .results.latency_gates import GateError, check_gates
    from .suites.collect import check_streamed

    where = f"{metafunc.definition.path.name}::{metafunc.definition.name}"
    try:
        if mark.args:
            raise GateError("llm_latency", "expected keyword gates, e.g. llm_latency(ttft_p95_ms=500)")
        check_streamed(check_gates(mark.kwargs), runtime.models, "llm_latency.")
    except GateError as exc:
        raise pytest.Collector.CollectError(f"{where}: llm_latency.{exc}" if exc.key != "llm_latency"
                                            else f"{where}: {exc}") from None
    except ConfigError as exc:
        raise pytest.Collector.CollectError(f"{where}: {exc}") from None


def _latency_gates(item: pytest.Item) -> dict[str, float]:
    from .results.latency_gates import check_gates

    mark = item.get_closest_marker(LATENCY_MARK)
    return check_gates(mark.kwargs) if mark is not None else {}


def llm_client(request: pytest.FixtureRequest) -> LLMClient:
    runtime = request.config.stash[RUNTIME]
    name = getattr(request, "param", runtime.models[0].name)
    client = LLMClient(runtime, runtime.model(name))
    request.node.stash[CLIENT] = client
    return client


CLIENT = pytest.StashKey[LLMClient]()


def sample_skeleton(item: pytest.Item) -> SampleResult | None:
    """A dataset test's result before its call (model, sample, threshold, gates); None for tests
    that are not samples."""
    callspec = getattr(item, "callspec", None)
    sample = callspec.params.get("sample") if callspec else None
    if not isinstance(sample, DatasetSample):
        return None
    client = item.stash.get(CLIENT, None)
    marker = item.get_closest_marker(THRESHOLD_MARK)
    meta = sample.meta
    return SampleResult(
        model=client.name if client else item.config.stash[RUNTIME].models[0].name,
        suite=meta["suite"], subject=meta["subject"], id=meta["id"], version=meta["version"], nodeid=item.nodeid,
        task="python", mode="test", threshold=float(marker.args[0]) if marker and marker.args else None,
        target=meta["target"], latency_gates=_latency_gates(item),
    )


def result_for_test(item: pytest.Item, call: pytest.CallInfo[None], strict: bool) -> SampleResult | None:
    """The sample result of a dataset test's call phase; None for tests that are not samples."""
    result = sample_skeleton(item)
    if result is None:
        return None
    client = item.stash.get(CLIENT, None)
    last = client.calls[-1] if client and client.calls else {}
    result.prompt, result.reply = last.get("prompt", ""), last.get("reply")
    result.latency_s = sum(c.get("latency_s") or 0 for c in client.calls) if client else None
    result.retries = sum(c.get("retries", 0) for c in client.calls) if client else 0
    result.cached = bool(client and client.calls and all(c.get("cached") for c in client.calls))
    result.prompt_tokens, result.completion_tokens = last.get("prompt_tokens"), last.get("completion_tokens")
    if not result.cached:  # serving numbers: the test's last call (most tests make one)
        for name, value in last.get("timing", {}).items():
            setattr(result, name, value)
    exc = call.excinfo.value if call.excinfo else None
    if exc is None:
        result.set_verdict(True)
    elif isinstance(exc, NotAsked):
        result.set_not_asked(exc.reason, exc.complete)
    elif isinstance(exc, SampleRejected):
        result.set_verdict(False)
        result.rejected = exc.reason
    elif isinstance(exc, FatalBackendError):
        result.error, result.fatal = str(exc), True
        item.session.shouldstop = f"pytest-llmeval: {exc}"
    elif isinstance(exc, AssertionError):
        result.set_verdict(False)
    elif call.excinfo and call.excinfo.errisinstance(pytest.skip.Exception):
        return None
    else:
        result.error = one_line(exc)
    return result
