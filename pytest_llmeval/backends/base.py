"""The backend contract: the one seam between the evaluation and whatever runs the model.

A backend answers two kinds of request:
- ``generate``: chat messages in, text out (every backend);
- ``loglikelihood``: a context and candidate continuations in, one summed log-probability per
  continuation out (only backends that can score tokens; the default raises ``ConfigError`` naming ``mode``).

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

The request and reply types live in ``messages.py`` (a leaf module: prompts and the engine use
them without importing backends) and are re-exported here, as part of the contract.

Secrets never live in ``BackendSettings``: a backend reads its key from the environment variable
the settings name, at construction, so settings (and the cache keys made from them) are safe to
log.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..messages import GenerateRequest, LoglikelihoodRequest, Message, Reply

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


class Backend(abc.ABC):
    """Subclass this for a backend of your own; ``generate`` is required, the rest optional."""

    #: The model runs in this process: one call at a time, batched (see the module docstring).
    local: bool = False
    #: ``loglikelihood`` can score continuations after an empty context (``mode: cloze``'s request
    #: for mutual information), conditioning the model on its BOS token as lm-eval does.
    scores_empty_context: bool = True

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

    def model_name(self) -> str:
        """The model that answers: ``settings.model``. A backend whose profile may say ``model:
        auto`` (whatever the server serves) asks the server instead; the engine calls this once,
        for such a model only, so that the cache key names the model that answered."""
        return self.settings.model

    def close(self) -> None:
        """Release sockets, threads or model memory; called once at session end."""
