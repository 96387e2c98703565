"""What goes to a model and comes back: chat messages, the two kinds of request, and the reply.

A leaf module (it imports nothing of the package), so prompts, the engine, the suites and the
backends can all use these values without any of them importing another's layer. The backend
contract (``backends/base.py``) re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GenerateRequest", "LoglikelihoodRequest", "Message", "Reply", "render_messages_text"]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """``seed``: the sampling seed of one attempt when a suite asks each prompt several times
    (``repeats``): attempt i is sampled with seed i, so the attempts differ, each is its own journal
    entry, and a rerun samples the same replies. None (one attempt): the backend's own default."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    seed: int | None = None


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
    # The server sent no usage: ``prompt_tokens`` / ``completion_tokens`` were estimated by the
    # engine (``engine.dispatch.fill_usage``), and reports mark the model's counts as estimated.
    usage_estimated: bool = False


def render_messages_text(messages: Sequence[Mapping[str, str]]) -> str:
    """The prompt as recorded in samples.jsonl (and as a text-only endpoint is sent it): the
    messages' text, system first."""
    return "\n\n".join(m["content"] for m in messages)
