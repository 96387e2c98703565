"""A scripted backend, for testing suites, scorers and plugins without a model or a server.

In the spirit of httpx's ``MockTransport``: the "model" is a table or a function, and it fails on
demand in each of the ways a real endpoint does, so a test can check what a suite, a custom
scorer or a gate makes of a transient 503, a content-filter refusal, a rejected key or a slow
reply. It is a real backend: the registry loads it by name like any other, and the engine gives
it the same retries, rate limit, concurrency, deadline and cache.

Two ways to use it:

- in a models file, with no Python at all::

      models:
        scripted:
          backend: pytest_llmeval.testing:ScriptedBackend
          options:
            replies: {"Capital of France?": "Paris", "Capital of Peru?": {fail: rejected, reason: filtered}}
            default: "I do not know"

- as a subclass in an importable module (``--llm-backend=tests.models:Quiz``), with a table
  (``replies``), a function (override ``reply``), or both::

      class Quiz(ScriptedBackend):
          replies = {"Capital of France?": "Paris", "Capital of Peru?": Transient("503", times=1, then="Lima")}

          def reply(self, request): ...  # anything not in the table

A prompt is looked up by the text of its last message (the user's question as the suite's
template rendered it; for ``mode: ll`` the raw context). What the table maps it to:

- a ``str``: the reply text; a list of floats: one log-likelihood per option (``mode: ll``);
- ``Transient(message, times=1, then=..., retry_after_s=None)``: the first ``times`` attempts
  fail as a 429/503 would (the engine retries them), then ``then`` answers;
- ``Rejected(reason)``: refused by policy, a miss with the reason;
- ``Failed(message)``: this sample cannot be answered, an error;
- ``Fatal(message)``: the endpoint refuses the whole run (a bad key), the session stops;
- ``Delayed(seconds, then)``: ``then``, after a pause (for deadlines and latency gates).

In a models file these are mappings: ``{fail: transient, message: "503", times: 1, then: Lima,
retry_after_s: 0.1}``, ``{fail: rejected, reason: ...}``, ``{fail: error, message: ...}``,
``{fail: fatal, message: ...}``, ``{delay_s: 0.5, then: Paris}``. Option ``reply:
package.module:function`` names a function ``(request) -> answer`` for what the table lacks, and
``default`` answers anything else. A prompt nothing answers is an error naming it: a test must
not pass on a reply nobody wrote.

Counts are per process (each xdist worker scripts its own attempts); ``calls`` lists the
requests this instance was sent, in order.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from .backends.base import Backend, BackendSettings
from .errors import BackendError, ConfigError, FatalBackendError, SampleRejected, TransientBackendError, one_line
from .messages import GenerateRequest, LoglikelihoodRequest, Reply

__all__ = ["Answer", "Delayed", "Failed", "Fatal", "Rejected", "ScriptedBackend", "Transient"]

Request = Union[GenerateRequest, LoglikelihoodRequest]


@dataclass(frozen=True)
class Transient:
    """The first ``times`` attempts at this prompt fail as a transient error; then ``then`` answers."""

    message: str = "503 Service Unavailable (scripted)"
    times: int = 1
    then: Answer = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Rejected:
    """Refused by policy (a content filter, a prompt too long): a miss with ``reason``."""

    reason: str = "rejected by the scripted endpoint"


@dataclass(frozen=True)
class Failed:
    """This sample cannot be answered (a 400): an error, not retried."""

    message: str = "400 Bad Request (scripted)"


@dataclass(frozen=True)
class Fatal:
    """The endpoint refuses the run (a 401 key, a 404 model): the session stops with one line."""

    message: str = "401 Unauthorized (scripted)"


@dataclass(frozen=True)
class Delayed:
    """``then``, after ``seconds``."""

    seconds: float
    then: Answer = None


Answer = Union[str, Sequence[float], Transient, Rejected, Failed, Fatal, Delayed, None]

_FAILURES: dict[str, Callable[[Mapping[str, Any]], Answer]] = {
    "transient": lambda m: Transient(str(m.get("message", Transient.message)), int(m.get("times", 1)),
                                     _answer_option(m.get("then")), m.get("retry_after_s")),
    "rejected": lambda m: Rejected(str(m.get("reason", Rejected.reason))),
    "error": lambda m: Failed(str(m.get("message", Failed.message))),
    "fatal": lambda m: Fatal(str(m.get("message", Fatal.message))),
}


def _answer_option(value: Any) -> Answer:
    """An answer as a models file spells it (a string, a list of numbers, or a mapping)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value]
    if isinstance(value, Mapping) and "delay_s" in value:
        return Delayed(float(value["delay_s"]), _answer_option(value.get("then")))
    if isinstance(value, Mapping) and value.get("fail") in _FAILURES:
        return _FAILURES[str(value["fail"])](value)
    raise ConfigError(f"expected a reply, a list of log-likelihoods, {{fail: {'|'.join(_FAILURES)}, ...}} "
                      f"or {{delay_s: S, then: ...}}, got {value!r}", key="options.replies")


def prompt_of(request: Request) -> str:
    """What the table is keyed by: the last message's text, or an ``ll`` request's context."""
    if isinstance(request, LoglikelihoodRequest):
        return request.context
    return request.messages[-1]["content"] if request.messages else ""


class ScriptedBackend(Backend):
    """A backend whose replies are scripted: see the module docstring."""

    replies: ClassVar[Mapping[str, Answer]] = {}
    default: ClassVar[Answer] = None

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        extra = settings.extra
        table = extra.get("replies", {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"expected a mapping of prompt to reply, got {type(table).__name__}", key="options.replies")
        self._table: dict[str, Answer] = {**self.replies, **{str(k): _answer_option(v) for k, v in table.items()}}
        self._default = _answer_option(extra["default"]) if "default" in extra else self.default
        self._function = _function(extra["reply"]) if "reply" in extra else None
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.calls: list[Request] = []

    def reply(self, request: Request) -> Answer:
        """The answer to a prompt the table lacks; override it to script replies by function."""
        if self._function is not None:
            return self._function(request)
        return self._default

    def generate(self, request: GenerateRequest) -> Reply:
        return self._answer(request)

    def loglikelihood(self, request: LoglikelihoodRequest) -> Reply:
        return self._answer(request)

    def _answer(self, request: Request) -> Reply:
        prompt = prompt_of(request)
        with self._lock:
            self.calls.append(request)
            attempt = self._attempts[prompt] = self._attempts.get(prompt, 0) + 1
        answer = self._table[prompt] if prompt in self._table else self.reply(request)
        return self._play(answer, prompt, attempt, request)

    def _play(self, answer: Answer, prompt: str, attempt: int, request: Request) -> Reply:
        started = time.perf_counter()
        while True:
            if isinstance(answer, Delayed):
                time.sleep(answer.seconds)
                answer = answer.then
            elif isinstance(answer, Transient) and attempt <= answer.times:
                raise TransientBackendError(answer.message, retry_after_s=answer.retry_after_s)
            elif isinstance(answer, Transient):
                attempt -= answer.times
                answer = answer.then
            else:
                break
        return _reply(answer, prompt, request, time.perf_counter() - started)


def _reply(answer: Answer, prompt: str, request: Request, latency_s: float) -> Reply:
    if isinstance(answer, Rejected):
        raise SampleRejected(answer.reason)
    if isinstance(answer, Failed):
        raise BackendError(answer.message)
    if isinstance(answer, Fatal):
        raise FatalBackendError(answer.message)
    if answer is None:
        shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        raise BackendError(f"no scripted reply for prompt {shown!r}")
    if isinstance(answer, str):
        if isinstance(request, LoglikelihoodRequest):
            raise BackendError(f"scripted reply for an ll prompt must be log-likelihoods, got text {answer[:40]!r}")
        return Reply(text=answer, latency_s=latency_s, completion_tokens=len(answer.split()))
    assert not isinstance(answer, (Transient, Delayed))  # played out by ScriptedBackend._play
    return Reply(text="", latency_s=latency_s, logprobs=tuple(float(v) for v in answer))


def _function(target: Any) -> Callable[[Request], Answer]:
    """``package.module:function`` from a models file."""
    module_name, _, name = str(target).partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load {target!r} ({one_line(exc)})", key="options.reply") from None
    if not callable(function):
        raise ConfigError(f"{target!r} is not a function", key="options.reply")
    return function  # type: ignore[no-any-return]
