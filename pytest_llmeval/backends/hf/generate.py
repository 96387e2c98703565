"""Batched generation for the ``hf`` backend.

- The prompt: the messages through the tokenizer's chat template with the generation prompt
  added (or, without one, their text joined by blank lines), cut from the left to
  ``max_seq_len - max_tokens`` tokens so the reply always has room.
- A batch: requests of one temperature, longest prompts together, left-padded with an attention
  mask. Greedy decoding at temperature 0; plain temperature sampling otherwise (no top-k/top-p,
  seeded, so a rerun samples the same replies). Every sampling setting is given explicitly,
  because transformers fills unset ones from the model's own ``generation_config.json``, which
  for many instruct models turns on sampling or a repetition penalty.
- Each row stops on its own: at the end-of-sequence token, at its ``max_tokens``, or once its
  text holds one of its stop strings; the reply is cut at the first stop string.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ...errors import BackendError
from ..base import GenerateRequest, Reply
from .load import LoadedHF

__all__ = ["SAMPLING_SEED", "generate_replies", "prompt_tokens"]

SAMPLING_SEED = 0


def prompt_tokens(loaded: LoadedHF, request: GenerateRequest, use_template: bool, max_len: int) -> list[int]:
    """The prompt's tokens, left-truncated so that ``max_tokens`` more still fit in ``max_len``."""
    tokenizer = loaded.tokenizer
    messages = [dict(m) for m in request.messages]
    if use_template:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        tokens = tokenizer.encode(text, add_special_tokens=False)  # the template wrote them
    else:
        tokens = tokenizer.encode("\n\n".join(m["content"] for m in messages))
    room = max_len - request.max_tokens
    if room < 1:
        raise BackendError(f"hf: max_tokens={request.max_tokens} leaves no room for the prompt "
                           f"in max_seq_len={max_len}")
    return [int(t) for t in tokens[-room:]]


def generate_replies(loaded: LoadedHF, requests: Sequence[GenerateRequest], prompts: list[list[int]],
                     batch_size: int) -> list[Reply]:
    """One reply per request, in order; batches share a temperature and similar prompt lengths."""
    replies: list[Reply | None] = [None] * len(requests)
    order = sorted(range(len(requests)), key=lambda i: (requests[i].temperature, -len(prompts[i])))
    chunks: list[list[int]] = []
    for i in order:
        if chunks and len(chunks[-1]) < batch_size and requests[chunks[-1][0]].temperature == requests[i].temperature:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    for chunk in chunks:
        for i, reply in zip(chunk, _generate_chunk(loaded, [requests[i] for i in chunk], [prompts[i] for i in chunk])):
            replies[i] = reply
    return [r for r in replies if r is not None]


def _generate_chunk(loaded: LoadedHF, requests: list[GenerateRequest], prompts: list[list[int]]) -> list[Reply]:
    import torch

    started = time.perf_counter()
    tokenizer, width = loaded.tokenizer, max(len(p) for p in prompts)
    eos = _eos_ids(loaded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for b, prompt in enumerate(prompts):
        ids[b, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        mask[b, width - len(prompt):] = 1
    temperature = requests[0].temperature
    if temperature > 0:
        torch.manual_seed(SAMPLING_SEED)
    stopper = _RowStop(tokenizer, width, [r.max_tokens for r in requests], [r.stop for r in requests])
    with torch.inference_mode():
        out = loaded.model.generate(
            input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device),
            generation_config=_config(max(r.max_tokens for r in requests), temperature, pad, eos),
            stopping_criteria=_criteria([stopper]))
    elapsed = (time.perf_counter() - started) / len(requests)  # each reply's share of the batch
    return [_reply(tokenizer, request, len(prompt), out[b, width:].tolist(), eos, pad, elapsed)
            for b, (request, prompt) in enumerate(zip(requests, prompts))]


def _reply(tokenizer: Any, request: GenerateRequest, n_prompt: int, new: list[int], eos: list[int], pad: int,
           elapsed: float) -> Reply:
    ends = [i for i, t in enumerate(new) if t in eos or t == pad]
    tokens = new[:min(ends[0] if ends else len(new), request.max_tokens)]
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    cut = min((i for i in (text.find(s) for s in request.stop if s) if i >= 0), default=-1)
    finish = "stop" if cut >= 0 or (ends and ends[0] < request.max_tokens) else "length"
    return Reply(text=text if cut < 0 else text[:cut], latency_s=elapsed, prompt_tokens=n_prompt,
                 completion_tokens=len(tokens), extra={"finish_reason": finish})


def _eos_ids(loaded: LoadedHF) -> list[int]:
    configured = loaded.model.generation_config.eos_token_id
    if configured is None:
        configured = loaded.tokenizer.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return [int(i) for i in ids if i is not None] or [0]


def _config(max_new_tokens: int, temperature: float, pad: int, eos: list[int]) -> Any:
    from transformers import GenerationConfig

    neutral = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "num_beams": 1, "min_new_tokens": 0}
    if temperature > 0:  # sampling keys are set only when sampling: greedy decoding warns about them
        neutral |= {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0, "min_p": 0.0,
                    "typical_p": 1.0}
    else:
        neutral["do_sample"] = False
    return GenerationConfig(max_new_tokens=max_new_tokens, pad_token_id=pad, eos_token_id=eos,  # type: ignore[no-untyped-call]
                            **neutral)


def _criteria(stoppers: list[Any]) -> Any:
    from transformers import StoppingCriteriaList

    return StoppingCriteriaList(stoppers)


class _RowStop:
    """Per row: done at its own ``max_tokens``, or once its new text holds one of its stop strings.
    (A transformers ``StoppingCriteria`` by duck typing: it returns one flag per row.)"""

    def __init__(self, tokenizer: Any, width: int, max_tokens: list[int], stops: list[tuple[str, ...]]) -> None:
        self._tokenizer, self._width, self._max, self._stops = tokenizer, width, max_tokens, stops
        self._done = [False] * len(max_tokens)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        produced = input_ids.shape[1] - self._width
        for b, done in enumerate(self._done):
            if done:
                continue
            if produced >= self._max[b]:
                self._done[b] = True
            elif any(self._stops[b]):
                text = self._tokenizer.decode(input_ids[b, self._width:], skip_special_tokens=True)
                self._done[b] = any(s and s in text for s in self._stops[b])
        return torch.tensor(self._done, dtype=torch.bool, device=input_ids.device)
