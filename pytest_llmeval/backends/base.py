"""The backend contract: the one seam between the evaluation and whatever runs the model.

A backend answers two kinds of request:
- ``generate``: chat messages in, text out (every backend);
- ``loglikelihood``: a context and candidate continuations in, one summed log-probability per
  continuation out (only backends that can score tokens; others raise ``NotSupported``).

Backends map their own failures into the exceptions of ``errors``; nothing else escapes them:
- ``TransientBackendError`` (429, 5xx, timeout, dropped connection, malformed body): the engine
  retries it with exponential backoff and jitter, honouring ``retry_after_s``;
- ``BackendError``: this sample cannot be answered (a 400, say); not retried, the item errors;
- ``SampleRejected``: refused by policy (content filter, prompt too long); a miss with the reason;
- ``FatalBackendError`` (401/403/404): the run stops.

The engine, not the backend, owns everything around a request: retries, the shared rate limit,
the in-flight limit, the response cache. A backend makes exactly one attempt per call, within
``self.attempt_timeout()``: ``settings.timeout_s``, or less when the run's deadline
(``--llm-deadline``) is nearer, so a request in flight never outlives the run. ``generate`` and ``loglikelihood`` may be ``async def``; the engine awaits
them. Local backends that run a model in this process set ``local = True``: the engine then calls
them from one thread, in batches through ``generate_batch`` / ``loglikelihood_batch``.

Secrets never live in ``BackendSettings``: a backend reads its key from the environment variable
the settings name, at construction, so settings (and the cache keys made from them) are safe to
log.
"""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

__all__ = ["Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Message", "Reply", "attempt_timeout",
           "endpoint_of", "set_attempt_deadline"]

_ATTEMPT = threading.local()  # the engine's threads: the run's deadline (epoch s), if it has one
_SHORTEST_S = 0.01


def set_attempt_deadline(deadline: float | None) -> None:
    """The engine marks its threads with the run's deadline; ``attempt_timeout`` reads it."""
    _ATTEMPT.deadline = deadline


def attempt_timeout(timeout_s: float) -> float:
    """Seconds the current attempt may take: ``timeout_s``, or what is left before the run's
    deadline when that is sooner (never below 10 ms, so a client still gets a valid timeout)."""
    deadline: float | None = getattr(_ATTEMPT, "deadline", None)
    if deadline is None:
        return timeout_s
    return max(_SHORTEST_S, min(timeout_s, deadline - time.time()))

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """Everything a backend is built from; filled from options and the model profile.

    ``api_key`` is read from ``api_key_env`` by the backend itself at construction and never
    stored here, so settings can be logged and written to reports safely.
    """

    backend: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0
    retries: int = 2
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    model_path: str | None = None  # local weights (GGUF file / model folder) for local backends
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific keys from the profile
    stream: bool = False  # --llm-stream: stream replies to time their tokens (backends that can)


def endpoint_of(settings: BackendSettings) -> str:
    """What a shared rate limit is counted against: one server (or one local model file), known
    before any backend is built, so every process of the run names it alike."""
    return f"{settings.backend}|{settings.base_url or settings.model_path or settings.model}"


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoglikelihoodRequest:
    """Score each continuation given the raw-text context (no chat template is applied)."""

    context: str
    continuations: tuple[str, ...]


@dataclass(slots=True)
class Reply:
    text: str
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: tuple[float, ...] | None = None  # set for loglikelihood replies, one per continuation
    extra: dict[str, Any] = field(default_factory=dict)
    # A streamed reply's timing, from when the request went out: the first non-empty content
    # chunk (``ttft_s``), the gaps between content chunks (``itl_s``) and how many there were.
    streamed: bool = False
    ttft_s: float | None = None
    itl_s: list[float] | None = None
    content_chunks: int | None = None


class Backend(abc.ABC):
    """Subclass this for a backend of your own; ``generate`` is required, the rest optional."""

    #: The model runs in this process: one call at a time, batched (see the module docstring).
    local: bool = False

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    def attempt_timeout(self) -> float:
        """Seconds this attempt may take in all: ``settings.timeout_s``, or less when the run's
        deadline (``--llm-deadline``) is nearer. Give it to the client for each request."""
        return attempt_timeout(self.settings.timeout_s)

    @abc.abstractmethod
    def generate(self, request: GenerateRequest) -> Reply:
        """Return the model's reply to the chat messages."""

    def loglikelihood(self, request: LoglikelihoodRequest) -> Reply:
        """Return a reply whose ``logprobs`` hold one summed log-probability per continuation."""
        from ..errors import ConfigError

        raise ConfigError(
            f"backend {self.settings.backend!r} cannot score log-likelihoods; use mode: gen",
            key="mode",
        )

    def generate_batch(self, requests: Sequence[GenerateRequest]) -> list[Reply]:
        """Replies in request order. Local backends override this to run one batch through the
        model; raising fails the whole batch, which the engine then retries one request at a time."""
        return [self.generate(r) for r in requests]

    def loglikelihood_batch(self, requests: Sequence[LoglikelihoodRequest]) -> list[Reply]:
        """As ``generate_batch``, for log-likelihood requests."""
        return [self.loglikelihood(r) for r in requests]

    def close(self) -> None:
        """Release sockets, threads or model memory; called once at session end."""
