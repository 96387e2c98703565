"""The backend contract: the one seam between the evaluation and whatever runs the model.

A backend answers two kinds of request:
- ``generate``: chat messages in, text out (every backend);
- ``loglikelihood``: a context and candidate continuations in, one summed log-probability per
  continuation out (only backends that can score tokens; others raise ``NotSupported``).

Backends map their own failures into ``errors.BackendError`` (give up on this sample) or
``errors.FatalBackendError`` (401/403/404: stop the run); nothing else escapes them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Message", "Reply"]

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


class Backend(abc.ABC):
    """Subclass this for a backend of your own; ``generate`` is required, the rest optional."""

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

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

    def close(self) -> None:
        """Release sockets, threads or model memory; called once at session end."""
