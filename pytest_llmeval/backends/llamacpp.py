"""Local GGUF models through llama-cpp-python.

- ``generate``: ``create_chat_completion``, so the GGUF's own chat template is applied;
  temperature 0 is greedy decoding. Each request is evaluated from scratch: reusing the
  kv-cache of a previous prompt evaluates the rest in other batch shapes, whose slightly
  different numerics can flip a greedy choice, so the reply would depend on what ran before.
- ``loglikelihood``: scored the way lm-evaluation-harness does. Trailing whitespace of the
  context moves to the continuation; the continuation's tokens are those of
  ``tokenize(context + continuation)`` after the first ``len(tokenize(context))``; the model reads
  ``context tokens + continuation tokens`` and each continuation token adds its log-softmax.
  The context is evaluated once per request and its kv-cache reused for every continuation.

One ``Llama`` per (model file, n_ctx) per process, shared by every backend built on it (tests and
the plugin alike) and guarded by one lock, since a ``Llama`` is not thread-safe. llama_cpp is
imported on first use, never when this module is imported, and only after a child process has
loaded the same file with the same build and decoded with it (``llamacpp_probe``): a build that
crashes on this CPU then fails this model's samples with one line instead of killing pytest.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, NativeCrashError, detail, one_line
from .base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply
from .llamacpp_probe import INSTALL_LLAMACPP

__all__ = ["DEFAULT_N_CTX", "LlamaCppBackend", "LoadedModel", "default_threads", "encode_pairs", "load_model"]

DEFAULT_N_CTX = 2048
_INSTALL = "backend llamacpp needs llama-cpp-python: " + INSTALL_LLAMACPP


@dataclass(frozen=True)
class LoadedModel:
    """A loaded ``Llama`` and the lock every use of it must hold."""

    llm: Any  # llama_cpp.Llama
    lock: threading.Lock


_MODELS: dict[tuple[str, int], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def default_threads() -> int:
    """Half the usable cores, for prompts and generation alike. llama.cpp's own default uses every
    core for prompts, and its spinning threads then crawl (30x slower, measured) as soon as other
    processes share the CPU: xdist workers, a local server, the rest of a CI machine."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 2
    return max(1, usable // 2)


def load_model(path: str | Path, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None, *,
               probe_timeout_s: float | None = None) -> LoadedModel:
    """The process's one ``Llama`` for this file and context size, loaded on first request once a
    child process has shown that this build runs it here (``n_threads`` and ``probe_timeout_s``
    apply to that first load only). NativeCrashError when it does not."""
    from .llamacpp_probe import PROBE_TIMEOUT_S, check_build

    file = Path(path).expanduser().resolve()
    with _MODELS_LOCK:
        key = (str(file), n_ctx)
        if key not in _MODELS:
            threads = n_threads or default_threads()
            _check_loadable(file)
            verdict = check_build(file, n_ctx, threads, timeout_s=probe_timeout_s or PROBE_TIMEOUT_S)
            if verdict.fails_the_model:
                raise NativeCrashError(verdict.message)
            llm = _new_llama(file, n_ctx, threads, extra_bufts=verdict.extra_bufts)
            _MODELS[key] = LoadedModel(llm, threading.Lock())
        return _MODELS[key]


def _check_loadable(file: Path) -> None:
    """What can be said before any native code runs: llama_cpp is installed, the file is there."""
    try:
        installed = importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        installed = False
    if not installed:
        raise ConfigError(_INSTALL)
    if not file.is_file():
        raise ConfigError(f"GGUF file not found: {file}", key="model_path")


def _new_llama(file: Path, n_ctx: int, n_threads: int, *, extra_bufts: bool = True) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError(_INSTALL) from None
    if not file.is_file():
        raise ConfigError(f"GGUF file not found: {file}", key="model_path")
    try:  # logits_all: loglikelihood reads the logits of every continuation position
        with _model_params({} if extra_bufts else {"use_extra_bufts": False}):
            return Llama(model_path=str(file), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                         seed=0, logits_all=True, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"llama.cpp cannot load {file}: {detail(exc)}", key="model_path") from None


@contextlib.contextmanager
def _model_params(overrides: dict[str, Any]) -> Iterator[None]:
    """Model parameters that ``Llama`` does not take as arguments (``use_extra_bufts``): it builds
    them from ``llama_model_default_params()``, so that function answers with ``overrides`` for
    the duration of one load (loads are serialised by ``_MODELS_LOCK``; the probe's child has one
    thread). Fields this llama-cpp-python does not have are left alone: the probe is the guarantee."""
    if not overrides:
        yield
        return
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params
    known = {name for name, *_ in type(original())._fields_}

    def patched() -> Any:
        params = original()
        for name, value in overrides.items():
            if name in known:
                setattr(params, name, value)
        return params

    low.llama_model_default_params = patched
    try:
        yield
    finally:
        low.llama_model_default_params = original


@atexit.register
def _free_models() -> None:
    """Free models before interpreter teardown, when llama_cpp's own ``__del__`` can misbehave."""
    with _MODELS_LOCK:
        for model in _MODELS.values():
            with contextlib.suppress(Exception):
                model.llm.close()
        _MODELS.clear()


class LlamaCppBackend(Backend):
    """``settings.model_path`` (default: the bundled SmolLM2 GGUF); ``extra``: ``n_ctx`` (default
    2048), ``n_threads`` (default: half the usable cores) and ``probe_timeout`` (seconds the child
    process that tries the build first may take to load and answer; default 300)."""

    local = True  # one model in this process: the engine calls it from one thread

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        if settings.model_path:
            path = Path(settings.model_path)
        else:
            from .bundled import bundled_model_path

            path = bundled_model_path()
        from .llamacpp_probe import PROBE_TIMEOUT_S

        n_ctx = _positive_int(settings.extra, "n_ctx", DEFAULT_N_CTX)
        self._model = load_model(path, n_ctx, _positive_int(settings.extra, "n_threads", default_threads()),
                                 probe_timeout_s=_positive_int(settings.extra, "probe_timeout", PROBE_TIMEOUT_S))

    def generate(self, request: GenerateRequest) -> Reply:
        started = time.perf_counter()
        with self._model.lock:
            try:
                self._model.llm.reset()  # from scratch: a cached prompt prefix can flip greedy choices
                out = self._model.llm.create_chat_completion(
                    messages=[dict(m) for m in request.messages], max_tokens=request.max_tokens,
                    temperature=request.temperature, stop=list(request.stop),
                    seed=request.seed if request.seed is not None else 0)
            except Exception as exc:  # noqa: BLE001 - a prompt too long, a template error, a failed decode
                raise BackendError(f"llama.cpp: {one_line(exc)}") from None
        choice, usage = out["choices"][0], out.get("usage") or {}
        return Reply(text=choice["message"].get("content") or "", latency_s=time.perf_counter() - started,
                     prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                     extra={"finish_reason": choice.get("finish_reason")})

    def loglikelihood(self, request: LoglikelihoodRequest, *, share_context: bool = True) -> Reply:
        """One summed log-probability per continuation; ``share_context=False`` evaluates every
        full sequence from scratch (slower; the reference the shared path is tested against)."""
        started = time.perf_counter()
        llm = self._model.llm
        with self._model.lock:
            try:
                context, continuations = encode_pairs(llm, request.context, request.continuations)
                self._check_lengths(context, continuations, request.continuations)
                scored = _score(llm, context, continuations, share_context)
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed decode
                raise BackendError(f"llama.cpp: {one_line(exc)}") from None
        return Reply(text="", latency_s=time.perf_counter() - started, logprobs=tuple(v for v, _ in scored),
                     prompt_tokens=len(context) + sum(len(c) for c in continuations),
                     extra={"continuation_tokens": tuple(len(c) for c in continuations),
                            "is_greedy": tuple(g for _, g in scored)})

    def _check_lengths(self, context: list[int], continuations: list[list[int]], texts: Sequence[str]) -> None:
        n_ctx = int(self._model.llm.n_ctx())
        for tokens, text in zip(continuations, texts):
            if not tokens:
                raise BackendError(f"llama.cpp: continuation {text!r} has no tokens to score")
            if len(context) + len(tokens) > n_ctx:
                raise BackendError(f"llama.cpp: context and continuation need {len(context) + len(tokens)} tokens, "
                                   f"more than n_ctx={n_ctx}; raise n_ctx in the model profile")


def _score(llm: Any, context: list[int], continuations: list[list[int]],
           share_context: bool) -> list[tuple[float, bool]]:
    results = []
    # a recurrent model's state cannot be cut back to the context: score those from scratch
    share_context = share_context and not (getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False))
    if share_context:
        llm.reset()
        llm.eval(context)
    for tokens in continuations:
        if share_context:
            llm.n_tokens = len(context)  # eval() first drops the kv-cache past n_tokens
            llm.eval(tokens)
        else:
            llm.reset()
            llm.eval(context + tokens)
        results.append(continuation_logprob(llm.scores, len(context), tokens))
    return results


def encode_pairs(llm: Any, context: str, continuations: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    """Context tokens and each continuation's tokens, split as lm-evaluation-harness splits them.

    An empty context (lm-eval's unconditional requests for ``acc_mutual_info``) is the prefix
    token alone, BOS or else EOS, and each continuation is encoded without special tokens, minus
    that token where the text itself begins with it (lm-eval's ``TemplateLM.loglikelihood``)."""
    stripped = context.rstrip()
    moved = context[len(stripped):]
    context_tokens = _tokenize(llm, stripped)
    if not context_tokens:
        bos = int(llm.token_bos())
        prefix = bos if bos >= 0 else int(llm.token_eos())
        encoded = [_tokenize(llm, moved + c, add_bos=False) for c in continuations]
        return [prefix], [tokens[1:] if tokens[:1] == [prefix] else tokens for tokens in encoded]
    n = len(context_tokens)
    return context_tokens, [_tokenize(llm, context + c)[n:] for c in continuations]


def _tokenize(llm: Any, text: str, add_bos: bool = True) -> list[int]:
    return [int(t) for t in llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)]


def continuation_logprob(scores: Any, start: int, tokens: Sequence[int]) -> tuple[float, bool]:
    """Sum of log-softmax over the continuation tokens at positions ``start...``, and whether each
    was the greedy choice. Row ``i`` of ``scores`` holds the logits that predict token ``i + 1``."""
    import numpy as np

    rows = np.asarray(scores[start - 1: start - 1 + len(tokens)], dtype=np.float64)
    peak = rows.max(axis=1, keepdims=True)
    log_norm = peak[:, 0] + np.log(np.exp(rows - peak).sum(axis=1))
    picked = rows[np.arange(len(tokens)), np.asarray(tokens)]
    greedy = bool((rows.argmax(axis=1) == np.asarray(tokens)).all())
    return float((picked - log_norm).sum()), greedy


def _positive_int(extra: dict[str, Any], key: str, default: int) -> int:
    value = extra.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected a positive integer, got {value!r}", key=key)
    return value
