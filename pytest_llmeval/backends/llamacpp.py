"""Local GGUF models through llama-cpp-python: chat generation with the GGUF's own template, and
log-likelihoods scored the way lm-evaluation-harness does (continuation tokens are those of
context+continuation after the context's tokens; the context is evaluated once and shared).

One ``Llama`` per (file, n_ctx) per process: tests and the plugin share a loaded model.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from typing import Any

from ..errors import BackendError, ConfigError
from .base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply

__all__ = ["LlamaCppBackend", "load_llama"]

_MODELS: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def load_llama(path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    with _MODELS_LOCK:
        if (path, n_ctx) not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ConfigError("backend llamacpp needs llama-cpp-python: pip install 'pytest-llmeval[llamacpp]'") from None
            model = Llama(model_path=path, n_ctx=n_ctx, logits_all=True, seed=0, verbose=False)
            _MODELS[(path, n_ctx)] = (model, threading.Lock())
        return _MODELS[(path, n_ctx)]


@atexit.register
def _close_models() -> None:
    """Free models before interpreter teardown, when llama_cpp's own __del__ can no longer run cleanly."""
    for model, _ in _MODELS.values():
        model.close()
    _MODELS.clear()


def _log_softmax_at(row: Any, token: int) -> float:
    import numpy as np

    peak = float(np.max(row))
    return float(row[token]) - peak - math.log(float(np.sum(np.exp(row - peak))))


class LlamaCppBackend(Backend):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        from .bundled import bundled_model_path

        path = settings.model_path or str(bundled_model_path())
        self._llm, self._lock = load_llama(path, int(settings.extra.get("n_ctx", 2048)))

    def generate(self, request: GenerateRequest) -> Reply:
        started = time.perf_counter()
        with self._lock:
            # No prefix reuse from the previous call: a different batch split changes the quantised
            # logits enough to flip greedy choices, and scores must not depend on item order.
            self._llm.reset()
            try:
                out = self._llm.create_chat_completion(
                    messages=list(request.messages), max_tokens=request.max_tokens,
                    temperature=request.temperature, stop=list(request.stop) or None, seed=0)
            except ValueError as exc:  # prompt longer than the context window
                raise BackendError(f"llama.cpp: {str(exc).splitlines()[0]}") from None
        usage = out.get("usage") or {}
        return Reply(text=out["choices"][0]["message"]["content"] or "", latency_s=time.perf_counter() - started,
                     prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))

    def _split(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        if context.endswith(" "):
            context, continuation = context[:-1], " " + continuation
        whole = self._llm.tokenize((context + continuation).encode(), add_bos=True, special=False)
        ctx = self._llm.tokenize(context.encode(), add_bos=True, special=False)
        return whole[: len(ctx)], whole[len(ctx):]

    def _score(self, context_tokens: list[int], continuation: list[int], shared: bool) -> float:
        llm = self._llm
        if not shared:
            llm.reset()
            llm.eval(context_tokens)
        llm.n_tokens = len(context_tokens)
        llm.eval(continuation)
        start = len(context_tokens) - 1
        return sum(_log_softmax_at(llm.scores[start + i], tok) for i, tok in enumerate(continuation))

    def loglikelihood(self, request: LoglikelihoodRequest, share_context: bool = True) -> Reply:
        started = time.perf_counter()
        scores: list[float] = []
        with self._lock:
            evaluated: list[int] | None = None
            for continuation in request.continuations:
                ctx, cont = self._split(request.context, continuation)
                if len(ctx) + len(cont) > self._llm.n_ctx():
                    raise BackendError(f"llama.cpp: {len(ctx) + len(cont)} tokens exceed the context window ({self._llm.n_ctx()})")
                if not cont:
                    raise BackendError(f"llama.cpp: continuation {continuation!r} adds no tokens")
                shared = share_context and evaluated == ctx
                scores.append(self._score(ctx, cont, shared))
                evaluated = ctx
        return Reply(text="", logprobs=tuple(scores), latency_s=time.perf_counter() - started,
                     prompt_tokens=len(ctx))
