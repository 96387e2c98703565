"""Log-likelihoods as lm-evaluation-harness's ``hf`` model computes them, in fewer model passes.

The numbers follow lm-eval 0.4's ``HFLM._loglikelihood_tokens``: the context/continuation split of
``encode_pairs`` on the raw text (no chat template), tokens encoded as ``HFLM.tok_encode`` does;
the model reads ``(context + continuation)[-(max_seq_len + 1):][:-1]`` (left truncation that keeps
the continuation), and each continuation token adds its log-softmax at the position before it.
Rows are right-padded and run without an attention mask, as lm-eval runs them: attention is
causal, so a real token never sees the padding after it.

What is cheaper:
- A continuation is read from any row whose tokens begin with its own input, so every
  single-token continuation of a context (the option letters of a multiple-choice question) is
  read from one row, and a continuation that starts another one is read from the longer row.
- Rows are sorted by length and batched only while padding stays small (see ``_chunks``).
- The output layer runs only on the positions that are read, and log-softmax only on those:
  ``[batch, sequence, vocabulary]`` is never built (49k floats per position for SmolLM2). A model
  whose logits are more than a linear layer of the last hidden state is read from full logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BackendError
from .base import LoglikelihoodRequest
from .hf_load import LoadedHF
from .llamacpp import encode_pairs

__all__ = ["Read", "TokenizerView", "plan_reads", "score_reads"]

_HEAD_BLOCK = 1024  # positions per output-layer call: bounds the [positions, vocabulary] block
_PADDING_SLACK_CPU = 0.1  # padding allowed in a batch, as a fraction of its real tokens (see _chunks)
_PADDING_SLACK_GPU = 1.0


class TokenizerView:
    """A transformers tokenizer behind the calls ``encode_pairs`` makes, encoding as lm-eval's
    ``HFLM.tok_encode``: the tokenizer's own special tokens (a BOS where the model wants one),
    except for a text that already starts with the prefix token."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        prefix = self.token_bos() if self.token_bos() >= 0 else self.token_eos()
        self._prefix_text = tokenizer.decode([prefix]) if prefix >= 0 else ""

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = True) -> list[int]:
        string = text.decode("utf-8")
        add = add_bos and not (self._prefix_text and string.startswith(self._prefix_text))
        kwargs = {} if add else {"add_special_tokens": False}
        return [int(t) for t in self._tokenizer.encode(string, **kwargs)]

    def token_bos(self) -> int:
        bos = self._tokenizer.bos_token_id
        return -1 if bos is None else int(bos)

    def token_eos(self) -> int:
        eos = self._tokenizer.eos_token_id
        return -1 if eos is None else int(eos)


@dataclass(frozen=True, slots=True)
class Read:
    """One continuation: read from ``row``, its first token predicted at position ``start``."""

    request: int
    option: int
    row: int
    start: int
    tokens: tuple[int, ...]


def plan_reads(tokenizer: Any, requests: Sequence[LoglikelihoodRequest],
               max_len: int) -> tuple[list[list[int]], list[Read]]:
    """The model inputs to run and where each continuation is read from them."""
    view = TokenizerView(tokenizer)
    rows: list[list[int]] = []
    reads: list[Read] = []
    for r, request in enumerate(requests):
        context, continuations = encode_pairs(view, request.context, request.continuations)
        inputs = [_model_input(context, tokens, text, max_len) for tokens, text in zip(continuations, request.continuations)]
        first = len(rows)
        for o in sorted(range(len(inputs)), key=lambda i: -len(inputs[i])):  # longest first: others may share it
            inp = inputs[o]
            row = next((i for i in range(first, len(rows)) if rows[i][:len(inp)] == inp), None)
            if row is None:
                rows.append(inp)
                row = len(rows) - 1
            reads.append(Read(r, o, row, len(inp) - len(continuations[o]), tuple(continuations[o])))
    return rows, reads


def _model_input(context: list[int], continuation: list[int], text: str, max_len: int) -> list[int]:
    if not continuation:
        raise BackendError(f"hf: continuation {text!r} has no tokens to score")
    if len(continuation) > max_len:
        raise BackendError(f"hf: continuation {text[:40]!r} has {len(continuation)} tokens, "
                           f"more than max_seq_len={max_len}")
    return (context + continuation)[-(max_len + 1):][:-1]


def score_reads(loaded: LoadedHF, rows: list[list[int]], reads: list[Read],
                batch_size: int) -> list[tuple[float, bool]]:
    """(summed log-probability, every token the greedy choice) for each read, in order."""
    by_row: dict[int, list[int]] = {}
    for k, read in enumerate(reads):
        by_row.setdefault(read.row, []).append(k)
    results: list[tuple[float, bool]] = [(0.0, False)] * len(reads)
    slack = _PADDING_SLACK_CPU if loaded.device.type == "cpu" else _PADDING_SLACK_GPU
    for chunk in _chunks(rows, batch_size, slack):
        wanted = [(b, k) for b, row in enumerate(chunk) for k in by_row[row]]
        for (_, k), value in zip(wanted, _score_chunk(loaded, [rows[i] for i in chunk], wanted, reads)):
            results[k] = value
    return results


def _chunks(rows: list[list[int]], batch_size: int, slack: float) -> list[list[int]]:
    """Row indices, longest first, in batches of at most ``batch_size`` whose padding stays within
    ``slack`` of their real tokens. A CPU gains little from a batch (one sequence of 100 tokens
    already keeps it busy), so padding is pure loss there; a GPU gains a lot, so it may pad more."""
    chunks: list[list[int]] = []
    real = 0
    for i in sorted(range(len(rows)), key=lambda i: -len(rows[i])):
        if chunks and len(chunks[-1]) < batch_size:
            width = len(rows[chunks[-1][0]])
            if width * (len(chunks[-1]) + 1) <= (1 + slack) * (real + len(rows[i])):
                chunks[-1].append(i)
                real += len(rows[i])
                continue
        chunks.append([i])
        real = len(rows[i])
    return chunks


def _score_chunk(loaded: LoadedHF, rows: list[list[int]], wanted: list[tuple[int, int]],
                 reads: list[Read]) -> list[tuple[float, bool]]:
    import torch

    pad = loaded.tokenizer.pad_token_id
    ids = torch.full((len(rows), len(rows[0])), 0 if pad is None else int(pad), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, :len(row)] = torch.tensor(row, dtype=torch.long)
    batch: list[int] = []
    position: list[int] = []
    target: list[int] = []
    owner: list[int] = []
    for n, (b, k) in enumerate(wanted):
        read = reads[k]
        batch += [b] * len(read.tokens)
        position += range(read.start, read.start + len(read.tokens))
        target += read.tokens
        owner += [n] * len(read.tokens)
    logprob, greedy = _token_logprobs(loaded, ids.to(loaded.device), torch.tensor(batch), torch.tensor(position),
                                      torch.tensor(target))
    sums = torch.zeros(len(wanted), dtype=torch.float64).index_add_(0, torch.tensor(owner), logprob.double())
    misses = torch.zeros(len(wanted), dtype=torch.long).index_add_(0, torch.tensor(owner), (~greedy).long())
    return [(float(s), int(m) == 0) for s, m in zip(sums, misses)]


def _token_logprobs(loaded: LoadedHF, ids: Any, batch: Any, position: Any, target: Any) -> tuple[Any, Any]:
    """Each picked position's log-probability of its target token, and whether it was the argmax."""
    import torch

    model = loaded.model
    with torch.inference_mode():
        if loaded.head_is_linear:
            hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state[batch, position]
            head = model.get_output_embeddings()
            blocks: Any = (head(hidden[i:i + _HEAD_BLOCK]) for i in range(0, len(hidden), _HEAD_BLOCK))
        else:
            blocks = [model(input_ids=ids, use_cache=False).logits[batch, position]]
        values, greedy, done = [], [], 0
        for block in blocks:
            wanted = target[done:done + len(block)].to(block.device)
            done += len(block)
            logprobs = torch.log_softmax(block.float(), dim=-1)
            values.append(logprobs.gather(1, wanted[:, None])[:, 0].cpu())
            greedy.append((logprobs.argmax(dim=-1) == wanted).cpu())
        return torch.cat(values), torch.cat(greedy)
