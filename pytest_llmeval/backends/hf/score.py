"""Log-likelihoods as lm-evaluation-harness's ``hf`` model computes them, in fewer model passes.

The numbers follow lm-eval 0.4's ``HFLM._loglikelihood_tokens``: the context/continuation split of
``encode_pairs`` on the raw text (no chat template), tokens encoded as ``HFLM.tok_encode`` does;
a continuation is scored after ``(context + continuation)[-(max_seq_len + 1):][:-1]`` (left
truncation that keeps the continuation), and each of its tokens adds its log-softmax at the
position before it.

What is cheaper:
- One pass over the context per request, whatever its options are ("packing"). A row holds the
  context, then its options' tokens as a prefix tree: options that begin alike share those
  positions, and each option token attends to the context and its own option's earlier tokens
  only, at the position it has in its own sequence (a 4D attention mask and position ids). Option
  texts of 10-50 tokens after a long prompt (cloze multiple choice, TruthfulQA) thus cost the
  prompt once, not once per option. A model is packed only where it honours such a mask exactly:
  ``packing_is_exact`` scores a probe both ways once, when the model is loaded.
- Unpacked, each option is a row of its own, ``context + option`` as lm-eval reads it, and an
  option is read from any row that begins with its own input: the single-token options of a
  context (the letters of a multiple-choice question) from one row, and an option that starts
  another one from the longer row. A batch without branching rows runs as lm-eval runs its
  rows: right-padded, causal, no mask (a real token never sees the padding after it).
- An option too long to follow the whole context keeps less of it (the truncation above), so it
  is packed only with the options that keep the same part.
- Rows are sorted by length and batched only while padding stays small (see ``_chunks``).
- The output layer runs only on the positions that are read, and log-softmax only on those:
  ``[batch, sequence, vocabulary]`` is never built (49k floats per position for SmolLM2). A model
  whose logits are more than a linear layer of the last hidden state is read from full logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import BackendError
from ..base import LoglikelihoodRequest
from ..llamacpp import encode_pairs
from .load import LoadedHF

__all__ = ["Read", "Row", "TokenizerView", "packing_is_exact", "plan_reads", "score_reads"]

_HEAD_BLOCK = 1024  # positions per output-layer call: bounds the [positions, vocabulary] block
_PADDING_SLACK_CPU = 0.1  # padding allowed in a batch, as a fraction of its real tokens (see _chunks)
_PADDING_SLACK_GPU = 1.0
_MASK_ELEMENTS = 1 << 26  # a batch's [batch, width, width] attention mask: 256 MB of float32 at most
# options that branch in any tokenizer: two share " jumps" and part after it; " sleeps" may be one token
_PROBE = LoglikelihoodRequest("The quick brown fox", (" jumps over the lazy dog", " jumps into the cold river",
                                                      " sleeps"))


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
class Row:
    """One model input: ``context`` causal tokens, then option tokens, each following the token at
    ``parents[i]`` (an index into ``tokens``). Without branches it is a plain causal sequence."""

    tokens: tuple[int, ...]
    context: int
    parents: tuple[int, ...] = ()

    @property
    def branches(self) -> bool:
        """Whether some token does not follow the one before it: the row needs a mask."""
        return self.parents != tuple(range(self.context - 1, len(self.tokens) - 1))


@dataclass(frozen=True, slots=True)
class Read:
    """One continuation: read from ``row``, its tokens predicted at ``positions`` of that row."""

    request: int
    option: int
    row: int
    positions: tuple[int, ...]
    tokens: tuple[int, ...]


_Planned = list[tuple[Row, list[tuple[int, tuple[int, ...]]]]]  # rows, each with its (option, positions)


def plan_reads(tokenizer: Any, requests: Sequence[LoglikelihoodRequest], max_len: int,
               pack: bool = False) -> tuple[list[Row], list[Read]]:
    """The model inputs to run and where each continuation is read from them."""
    view = TokenizerView(tokenizer)
    rows: list[Row] = []
    reads: list[Read] = []
    for r, request in enumerate(requests):
        context, continuations = encode_pairs(view, request.context, request.continuations)
        for tokens, text in zip(continuations, request.continuations):
            _check(tokens, text, max_len)
        planned = _packed(context, continuations, max_len) if pack else _unpacked(context, continuations, max_len)
        for row, options in planned:
            rows.append(row)
            reads += [Read(r, o, len(rows) - 1, positions, tuple(continuations[o])) for o, positions in options]
    return rows, reads


def _check(continuation: list[int], text: str, max_len: int) -> None:
    if not continuation:
        raise BackendError(f"hf: continuation {text!r} has no tokens to score")
    if len(continuation) > max_len:
        raise BackendError(f"hf: continuation {text[:40]!r} has {len(continuation)} tokens, "
                           f"more than max_seq_len={max_len}")


def _kept(context: list[int], continuation: list[int], max_len: int) -> int:
    """Where the context starts that the continuation is read after: lm-eval keeps the last
    ``max_len`` tokens of ``context + continuation[:-1]``."""
    return max(0, len(context) + len(continuation) - 1 - max_len)


def _unpacked(context: list[int], continuations: list[list[int]], max_len: int) -> _Planned:
    """A plain row per option, ``(context + option)[kept:][:-1]``, unless a longer one begins with it."""
    planned: _Planned = []
    for o in sorted(range(len(continuations)), key=lambda i: -len(continuations[i])):  # longest first
        tokens = continuations[o]
        inp = tuple(context[_kept(context, tokens, max_len):] + tokens[:-1])
        found = next((entry for entry in planned if entry[0].tokens[:len(inp)] == inp), None)
        if found is None:
            found = (Row(inp, len(inp)), [])
            planned.append(found)
        found[1].append((o, tuple(range(len(inp) - len(tokens), len(inp)))))
    return planned


def _packed(context: list[int], continuations: list[list[int]], max_len: int) -> _Planned:
    """One row per part of the context kept (one, unless an option needs truncation): the context,
    then the options' tokens but their last as a prefix tree."""
    trees: dict[int, _Tree] = {}
    paths: dict[int, list[tuple[int, list[int]]]] = {}
    for o, tokens in enumerate(continuations):
        kept = _kept(context, tokens, max_len)
        tree = trees.setdefault(kept, _Tree())
        paths.setdefault(kept, []).append((o, tree.add(tokens)))
    planned: _Planned = []
    for kept, tree in trees.items():
        start = len(context) - kept  # the row index of the first option token
        row = Row(tuple(context[kept:] + tree.tokens), start,
                  tuple(start - 1 if p < 0 else start + p for p in tree.parents))
        planned.append((row, [(o, (start - 1, *(start + n for n in path))) for o, path in paths[kept]]))
    return planned


class _Tree:
    """Option tokens as a prefix tree whose root is the context's last token."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.parents: list[int] = []  # each node's parent node, -1 for the root
        self._children: dict[tuple[int, int], int] = {}

    def add(self, continuation: list[int]) -> list[int]:
        """The nodes that feed ``continuation`` (its tokens but the last), added where missing."""
        path: list[int] = []
        parent = -1
        for token in continuation[:-1]:
            node = self._children.get((parent, token))
            if node is None:
                node = self._children[(parent, token)] = len(self.tokens)
                self.tokens.append(token)
                self.parents.append(parent)
            path.append(node)
            parent = node
        return path


def score_reads(loaded: LoadedHF, rows: list[Row], reads: list[Read],
                batch_size: int) -> list[tuple[float, bool]]:
    """(summed log-probability, every token the greedy choice) for each read, in order."""
    by_row: dict[int, list[int]] = {}
    for k, read in enumerate(reads):
        by_row.setdefault(read.row, []).append(k)
    results: list[tuple[float, bool]] = [(0.0, False)] * len(reads)
    slack = _PADDING_SLACK_CPU if loaded.device.type == "cpu" else _PADDING_SLACK_GPU
    for chunk in _chunks([len(row.tokens) for row in rows], batch_size, slack):
        wanted = [(b, k) for b, row in enumerate(chunk) for k in by_row[row]]
        for (_, k), value in zip(wanted, _score_chunk(loaded, [rows[i] for i in chunk], wanted, reads)):
            results[k] = value
    return results


def packing_is_exact(loaded: LoadedHF) -> bool:
    """Whether ``loaded`` scores packed options as it scores them in rows of their own. A model
    may ignore a 4D mask or position ids (flash attention, a sliding window, state-space layers),
    so this is asked of the model itself, once, on a probe whose options branch."""
    import torch

    config = loaded.model.config
    if getattr(config, "_attn_implementation", None) not in ("sdpa", "eager") or _windowed(config):
        return False
    tolerance = 1e-3 if loaded.model.dtype == torch.float32 else 0.25
    try:
        packed, alone = (_probe_scores(loaded, pack) for pack in (True, False))
    except Exception:  # noqa: BLE001 - a model that rejects the mask or the position ids
        return False
    return all(abs(a - b) <= tolerance for a, b in zip(packed, alone, strict=True))


def _windowed(config: Any) -> bool:
    """A sliding-window attention layer, which a 4D mask would override."""
    layer_types = getattr(config, "layer_types", None) or ()
    window = getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True)
    return bool(window) or any("sliding" in str(kind) for kind in layer_types)


def _probe_scores(loaded: LoadedHF, pack: bool) -> list[float]:
    rows, reads = plan_reads(loaded.tokenizer, [_PROBE], 64, pack=pack)
    if pack and not any(row.branches for row in rows):
        raise ValueError("the probe's options do not branch in this tokenizer")
    scored = score_reads(loaded, rows, reads, batch_size=4)
    return [value for _, (value, _) in sorted(zip([read.option for read in reads], scored))]


def _chunks(lengths: list[int], batch_size: int, slack: float) -> list[list[int]]:
    """Row indices, longest first, in batches of at most ``batch_size`` whose padding stays within
    ``slack`` of their real tokens and whose attention masks stay within ``_MASK_ELEMENTS``. A CPU
    gains little from a batch (one sequence of 100 tokens already keeps it busy), so padding is
    pure loss there; a GPU gains a lot, so it may pad more."""
    chunks: list[list[int]] = []
    real = 0
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if chunks and len(chunks[-1]) < batch_size:
            width, size = lengths[chunks[-1][0]], len(chunks[-1]) + 1
            if width * size <= (1 + slack) * (real + lengths[i]) and size * width * width <= _MASK_ELEMENTS:
                chunks[-1].append(i)
                real += lengths[i]
                continue
        chunks.append([i])
        real = lengths[i]
    return chunks


def _score_chunk(loaded: LoadedHF, rows: list[Row], wanted: list[tuple[int, int]],
                 reads: list[Read]) -> list[tuple[float, bool]]:
    import torch

    pad = loaded.tokenizer.pad_token_id
    width = len(rows[0].tokens)
    ids = torch.full((len(rows), width), 0 if pad is None else int(pad), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, :len(row.tokens)] = torch.tensor(row.tokens, dtype=torch.long)
    packed = _packing_inputs(rows, width, loaded) if any(row.branches for row in rows) else {}
    batch: list[int] = []
    position: list[int] = []
    target: list[int] = []
    owner: list[int] = []
    for n, (b, k) in enumerate(wanted):
        read = reads[k]
        batch += [b] * len(read.tokens)
        position += read.positions
        target += read.tokens
        owner += [n] * len(read.tokens)
    logprob, greedy = _token_logprobs(loaded, {"input_ids": ids.to(loaded.device), **packed}, torch.tensor(batch),
                                      torch.tensor(position), torch.tensor(target))
    sums = torch.zeros(len(wanted), dtype=torch.float64).index_add_(0, torch.tensor(owner), logprob.double())
    misses = torch.zeros(len(wanted), dtype=torch.long).index_add_(0, torch.tensor(owner), (~greedy).long())
    return [(float(s), int(m) == 0) for s, m in zip(sums, misses)]


def _packing_inputs(rows: list[Row], width: int, loaded: LoadedHF) -> dict[str, Any]:
    """The additive 4D attention mask and the position ids of packed rows: a context token sees
    the context before it, an option token the context and its own option's tokens up to itself,
    at its position in its own sequence; padding sees only itself, so no row is all masked."""
    import torch

    allowed = torch.zeros((len(rows), width, width), dtype=torch.bool)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        n = row.context
        allowed[b, :n, :n] = torch.ones((n, n), dtype=torch.bool).tril()
        positions[b, :n] = torch.arange(n)
        for q, parent in enumerate(row.parents, start=n):
            allowed[b, q] = allowed[b, parent]
            allowed[b, q, q] = True
            positions[b, q] = positions[b, parent] + 1
        padding = torch.arange(len(row.tokens), width)
        allowed[b, padding, padding] = True
    dtype = loaded.model.dtype
    mask = torch.zeros((len(rows), 1, width, width), dtype=dtype).masked_fill(~allowed[:, None], torch.finfo(dtype).min)
    return {"attention_mask": mask.to(loaded.device), "position_ids": positions.to(loaded.device)}


def _token_logprobs(loaded: LoadedHF, inputs: dict[str, Any], batch: Any, position: Any,
                    target: Any) -> tuple[Any, Any]:
    """Each picked position's log-probability of its target token, and whether it was the argmax."""
    import torch

    model = loaded.model
    with torch.inference_mode():
        if loaded.head_is_linear:
            hidden = model.base_model(**inputs, use_cache=False).last_hidden_state[batch, position]
            head = model.get_output_embeddings()
            blocks: Any = (head(hidden[i:i + _HEAD_BLOCK]) for i in range(0, len(hidden), _HEAD_BLOCK))
        else:
            blocks = [model(**inputs, use_cache=False).logits[batch, position]]
        values, greedy, done = [], [], 0
        for block in blocks:
            wanted = target[done:done + len(block)].to(block.device)
            done += len(block)
            logprobs = torch.log_softmax(block.float(), dim=-1)
            values.append(logprobs.gather(1, wanted[:, None])[:, 0].cpu())
            greedy.append((logprobs.argmax(dim=-1) == wanted).cpu())
        return torch.cat(values), torch.cat(greedy)
