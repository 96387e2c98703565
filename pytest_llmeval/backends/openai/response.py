"""A base class for backends of your own whose code gets OpenAI-format chat completions.

Many vendor SDKs and local runtimes already return the OpenAI response shape (ZhipuAI's ``zhipuai``,
the ``openai`` SDK against any compatible server, llama-cpp-python's ``create_chat_completion``).
Subclass ``OpenAIResponseBackend``, write ``create_chat_completion`` to return that response, and
the reading is done once, here, the same way for everyone:

    {"choices": [{"message": {"content": "..."}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 12, "completion_tokens": 3}}

- a mapping, or an object with ``model_dump()`` (the pydantic responses of those SDKs);
- ``finish_reason`` in ``rejected_finish_reasons`` (``content_filter``; add your vendor's word,
  ZhipuAI's is ``sensitive``) raises ``SampleRejected``: the sample is a miss with the reason;
- a response that is not that shape raises a one-line ``TransientBackendError``, which the engine
  retries like a garbled body; an ``{"error": {...}}`` object raises a one-line ``BackendError``.

``create_chat_completion`` may be ``async def``: ``generate`` is then async too, and the engine
awaits it on one event loop per model, so an async client made in ``__init__`` can be reused.
Errors your code knows better (a rate limit, a rejected key, a content filter reported as an HTTP
error) it raises itself, as the ``errors`` classes.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar

from ...errors import BackendError, SampleRejected, TransientBackendError
from ..base import Backend, GenerateRequest, Reply

__all__ = ["REJECTED_FINISH_REASONS", "OpenAIResponseBackend", "refuse_finish", "reply_from_response"]

_MAX_LINE = 300
#: The OpenAI protocol's finish reason for a reply its content filter stopped: a refusal, a miss.
REJECTED_FINISH_REASONS = frozenset({"content_filter"})


def refuse_finish(finish: object, reasons: frozenset[str] = REJECTED_FINISH_REASONS) -> None:
    """A reply the endpoint's filter stopped is a refusal (the README's ``SampleRejected``): every
    built-in backend and this base class decide it here."""
    if isinstance(finish, str) and finish in reasons:
        raise SampleRejected(f"refused by the endpoint (finish_reason: {finish})")
Response = Mapping[str, Any] | Any  # a mapping, or an object with model_dump()


class OpenAIResponseBackend(Backend):
    """Subclass, and write ``create_chat_completion`` (sync or ``async def``); ``generate`` is done."""

    #: ``finish_reason`` values that mean the endpoint refused to answer this prompt.
    rejected_finish_reasons: ClassVar[frozenset[str]] = REJECTED_FINISH_REASONS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # an async create_chat_completion gets an async generate, so the engine awaits it
        ours = (OpenAIResponseBackend.generate, OpenAIResponseBackend._generate_async)
        if cls.generate in ours:
            is_async = inspect.iscoroutinefunction(cls.create_chat_completion)
            setattr(cls, "generate", ours[1] if is_async else ours[0])

    def create_chat_completion(self, request: GenerateRequest) -> Response | Awaitable[Response]:
        """One attempt at the request; the response in the OpenAI chat completion shape."""
        raise NotImplementedError(f"{type(self).__name__} must define create_chat_completion(request)")

    def chat_params(self, request: GenerateRequest) -> dict[str, Any]:
        """The request as OpenAI chat parameters: ``model``, ``messages``, ``max_tokens``,
        ``temperature`` and ``stop`` (when there is one)."""
        params: dict[str, Any] = {"model": self.settings.model, "messages": [dict(m) for m in request.messages],
                                  "max_tokens": request.max_tokens, "temperature": request.temperature}
        if request.stop:
            params["stop"] = list(request.stop)
        return params

    def generate(self, request: GenerateRequest) -> Reply:
        started = time.perf_counter()
        response = self.create_chat_completion(request)
        if inspect.isawaitable(response):  # a plain def that hands back a coroutine: the engine awaits it
            return self._reply_when_done(response, started)  # type: ignore[return-value]
        return self.reply(response, time.perf_counter() - started)

    async def _generate_async(self, request: GenerateRequest) -> Reply:
        return await self._reply_when_done(self.create_chat_completion(request), time.perf_counter())

    async def _reply_when_done(self, response: Any, started: float) -> Reply:
        return self.reply(await response, time.perf_counter() - started)

    def reply(self, response: Response, latency_s: float = 0.0) -> Reply:
        """The ``Reply`` for one response (see the module docstring for what raises)."""
        return reply_from_response(response, latency_s, where=type(self).__name__,
                                   rejected_finish_reasons=self.rejected_finish_reasons)


def reply_from_response(response: Response, latency_s: float = 0.0, *, where: str = "backend",
                        rejected_finish_reasons: frozenset[str] = REJECTED_FINISH_REASONS) -> Reply:
    """Read an OpenAI-format chat completion response into a ``Reply``."""
    data = _as_mapping(response)
    if data is None:
        raise _malformed(where, f"a {type(response).__name__}, not a response mapping")
    error = data.get("error")
    if error is not None and "choices" not in data:
        message = error.get("message") if isinstance(error, Mapping) else error
        raise BackendError(_line(f"{where}: the response is an error: {message}"))
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise _malformed(where, "no choices[0]")
    choice = choices[0]
    finish = choice.get("finish_reason")
    refuse_finish(finish, rejected_finish_reasons)
    message = choice.get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(content, (str, type(None))):
        raise _malformed(where, "no choices[0].message.content string")
    usage = data.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    return Reply(text=content or "", latency_s=latency_s, prompt_tokens=_count(usage.get("prompt_tokens")),
                 completion_tokens=_count(usage.get("completion_tokens")),
                 extra={"finish_reason": finish} if isinstance(finish, str) else {})


def _as_mapping(response: object) -> Mapping[str, Any] | None:
    if isinstance(response, Mapping):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dumped if isinstance(dumped, Mapping) else None
    return None


def _malformed(where: str, what: str) -> TransientBackendError:
    return TransientBackendError(_line(f"{where}: malformed response: {what}"))


def _line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
