"""Local models through HuggingFace transformers: ``gen`` and ``ll``, batched, on CPU or GPU.

The model: ``model_path``, a local model folder or a ``.gguf`` file (read through transformers'
``gguf_file=``, converted once per machine into a cache: see ``load.py``). Without one, the
bundled SmolLM2-135M-Instruct GGUF for the model names ``smollm2`` / ``SmolLM2-135M-Instruct``
(the default model), or ``model`` itself when it is a local path. Nothing is ever downloaded.

Profile ``options`` (each checked, a bad value is a one-line error naming it):
- ``dtype``: ``auto`` (default: float32 on CPU; bfloat16 on a GPU that has it, else float16),
  ``float32``, ``bfloat16`` or ``float16``. float32 stays the CPU default because it is exact;
  on a CPU with AVX512-BF16, bfloat16 scored 285 MMLU items 3.2-3.4x faster and picked the same
  option on every one (benchmarks/RESULTS.md).
- ``device``: ``auto`` (default: the first GPU torch sees, else the CPU), ``cpu``, ``cuda``,
  ``cuda:N``.
- ``max_seq_len``: the most tokens the model reads at once (default: the model's maximum
  positions, capped at 4096). Longer prompts lose their start: generation keeps the last
  ``max_seq_len - max_tokens`` prompt tokens, scoring keeps the continuation and the end of the
  context, as lm-evaluation-harness does.
- ``batch_size``: rows per forward pass (default 16). On a CPU a scoring batch also ends where
  padding would pass 10% of its tokens: there a batch saves little and padding costs in full.
- ``chat_template``: apply the tokenizer's chat template to generation prompts (default: when
  the tokenizer has one). Log-likelihoods always score the raw text.
- ``n_threads``: torch's CPU threads, for the whole process (torch has one pool; default: half
  the usable cores). With every core, torch's spinning threads crawl as soon as other processes
  share the CPU (xdist workers, CI): 30 greedy tokens of SmolLM2 took 1.6-2.8 s on one thread
  and 1.3-10.7 s on two, on a busy 2-core machine (measured).

``generate`` and ``loglikelihood`` follow ``generate.py`` and ``score.py``; the latter gives
lm-evaluation-harness's ``hf`` numbers. The engine calls the ``*_batch`` methods (``local = True``).

One loaded model per (model, dtype, device) per process, shared by every backend built on it
(the plugin's and the tests'), used under one lock. torch and transformers are imported when
the first backend is built, never when this module is imported; without them the error names
the install command. A model failing mid-batch (a GPU out of memory) is a one-line
``BackendError`` for that batch, which the engine retries one request at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from ...errors import BackendError, ConfigError, one_line
from ..base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply
from ..llamacpp import default_threads
from .load import LoadedHF, import_torch, load_hf_model
from .options import MAX_SEQ_LEN_CAP, model_source, parse_options, resolve_device, resolve_dtype

__all__ = ["HFBackend"]

T = TypeVar("T")


class HFBackend(Backend):
    """A transformers causal LM; see the module docstring for its options."""

    local = True

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self.options = parse_options(settings.extra)
        source = model_source(settings)
        torch = import_torch()
        threads = self.options.n_threads or default_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        device = resolve_device(torch, self.options.device)
        self.model: LoadedHF = load_hf_model(source, resolve_dtype(torch, self.options.dtype, device), device)
        self.max_seq_len = self.options.max_seq_len or _model_max_len(self.model)
        has_template = bool(getattr(self.model.tokenizer, "chat_template", None))
        if self.options.chat_template and not has_template:
            raise ConfigError(f"the tokenizer of {source} has no chat template", key="chat_template")
        self.use_chat_template = has_template if self.options.chat_template is None else self.options.chat_template

    def generate(self, request: GenerateRequest) -> Reply:
        return self.generate_batch([request])[0]

    def loglikelihood(self, request: LoglikelihoodRequest) -> Reply:
        return self.loglikelihood_batch([request])[0]

    def generate_batch(self, requests: Sequence[GenerateRequest]) -> list[Reply]:
        from .generate import generate_replies, prompt_tokens

        with self.model.lock:
            prompts = _guarded(lambda: [prompt_tokens(self.model, r, self.use_chat_template, self.max_seq_len)
                                        for r in requests])
            return _guarded(lambda: generate_replies(self.model, requests, prompts, self.options.batch_size))

    def loglikelihood_batch(self, requests: Sequence[LoglikelihoodRequest]) -> list[Reply]:
        from .score import plan_reads, score_reads

        started = time.perf_counter()
        with self.model.lock:
            rows, reads = _guarded(lambda: plan_reads(self.model.tokenizer, requests, self.max_seq_len,
                                                      pack=self.model.packs))
            scored = _guarded(lambda: score_reads(self.model, rows, reads, self.options.batch_size))
        elapsed = (time.perf_counter() - started) / len(requests)  # each reply's share of the batch
        options: list[list[tuple[int, float, bool, int]]] = [[] for _ in requests]
        tokens_read = [0] * len(requests)
        for read, (logprob, greedy) in zip(reads, scored):
            options[read.request].append((read.option, logprob, greedy, len(read.tokens)))
        for row in sorted({(read.request, read.row) for read in reads}):
            tokens_read[row[0]] += len(rows[row[1]].tokens)
        return [_ll_reply(sorted(found), elapsed, n) for found, n in zip(options, tokens_read)]


def _ll_reply(options: list[tuple[int, float, bool, int]], elapsed: float, tokens_read: int) -> Reply:
    """``prompt_tokens``: the tokens the model read for this request (its rows)."""
    return Reply(text="", latency_s=elapsed, logprobs=tuple(lp for _, lp, _, _ in options),
                 prompt_tokens=tokens_read,
                 extra={"continuation_tokens": tuple(n for _, _, _, n in options),
                        "is_greedy": tuple(g for _, _, g, _ in options)})


def _model_max_len(model: LoadedHF) -> int:
    """lm-evaluation-harness's choice of the model's length, capped: the config's positions, else
    the tokenizer's limit when it is a real one, else 2048."""
    config = getattr(model.model.config, "text_config", None) or model.model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return min(value, MAX_SEQ_LEN_CAP)
    limit = getattr(model.tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**9:
        return min(limit, MAX_SEQ_LEN_CAP)
    return 2048


def _guarded(call: Callable[[], T]) -> T:
    """Run model work; failures other than ours become one-line BackendErrors (a GPU out of
    memory, a shape the model rejects)."""
    try:
        return call()
    except BackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError subclasses, tokenizers others
        raise BackendError(f"hf: {one_line(exc)}") from None
