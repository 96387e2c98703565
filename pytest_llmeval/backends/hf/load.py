"""Loading HuggingFace models for the ``hf`` backend: one model per (source, dtype, device) per process.

A source is a local model folder or a ``.gguf`` file. transformers reads a GGUF by dequantising
every tensor and rebuilding the tokenizer from the file's metadata: about 16 s for the bundled
135M model on 2 cores, against 0.2 s for the same weights saved as safetensors (measured). So
the first load of a GGUF on a machine converts it into a cache folder,
``$XDG_CACHE_HOME/pytest-llmeval/hf/<sha256 of the file and the transformers version>``
(``~/.cache`` when unset), and every later load, in any process, reads that folder. The folder
is written under a temporary name and renamed into place, so a process never sees a half-written
one, and when two xdist workers convert at once the second rename loses harmlessly. Where the
cache cannot be written, the model is used straight from the GGUF.

torch and transformers are imported on first load, never when this module is imported.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ...errors import ConfigError, detail

__all__ = ["INSTALL_HINT", "LoadedHF", "cache_root", "converted_folder", "import_torch", "load_hf_model"]

INSTALL_HINT = ("backend hf needs torch and transformers: install the torch build for your machine first, "
                "then pip install 'pytest-llmeval[hf]'")


@dataclass(frozen=True)
class LoadedHF:
    """A model, its tokenizer, and the lock every use of them must hold (neither is thread-safe)."""

    model: Any  # transformers.PreTrainedModel, in eval mode, on ``device``
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    device: Any  # torch.device
    lock: threading.Lock
    head_is_linear: bool  # logits == lm_head(last hidden state): positions can be picked before the head
    packs: bool = False  # options are scored packed behind one pass over their context (see score.py)


_MODELS: dict[tuple[str, str, str], LoadedHF] = {}
_MODELS_LOCK = threading.Lock()


def import_torch() -> Any:
    """``torch``, or the one-line install hint."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return torch


def load_hf_model(source: Path, dtype: str, device: str) -> LoadedHF:
    """The process's one model for this source, dtype name and resolved device, loaded on first use."""
    key = (str(source), dtype, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(source, dtype, device)
        return _MODELS[key]


def _load(source: Path, dtype: str, device: str) -> LoadedHF:
    torch = import_torch()
    if not source.exists():
        raise ConfigError(f"model folder or GGUF file not found: {source}", key="model_path")
    if source.is_file() and source.suffix != ".gguf":
        raise ConfigError(f"expected a model folder or a .gguf file, got {source}", key="model_path")
    try:
        folder = converted_folder(source) if source.is_file() else source
        if folder is None:  # a GGUF whose conversion could not be cached
            model, tokenizer = _from_gguf(source, getattr(torch, dtype))
        else:
            model, tokenizer = _from_folder(folder, getattr(torch, dtype))
        model = model.to(device).eval()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ConfigError(f"transformers cannot load {source}: {detail(exc)}", key="model_path") from None
    from .score import packing_is_exact

    loaded = LoadedHF(model, tokenizer, torch.device(device), threading.Lock(), _head_is_linear(model, tokenizer))
    return replace(loaded, packs=packing_is_exact(loaded))


def _from_folder(folder: Path, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True)
    return model, tokenizer


def _from_gguf(file: Path, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(file.parent), gguf_file=file.name, dtype=dtype,
                                                     local_files_only=True)
    except ImportError as exc:  # transformers needs gguf (and accelerate) to read a GGUF
        raise ConfigError(f"{INSTALL_HINT} ({detail(exc)})") from None
    except ValueError as exc:  # transformers' "accelerate is required ... `pip install accelerate`"
        if "pip install" in str(exc):
            raise ConfigError(f"{INSTALL_HINT} ({detail(exc)})") from None
        raise
    return model, tokenizer


def cache_root() -> Path:
    from ...machine import user_cache_dir

    return user_cache_dir() / "hf"


def converted_folder(file: Path) -> Path | None:
    """The cached safetensors copy of a GGUF, converted now if missing; None if it cannot be written."""
    import transformers

    digest = hashlib.sha256(transformers.__version__.encode())
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    target = cache_root() / digest.hexdigest()[:24]
    if (target / "config.json").is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    except OSError:
        return None
    try:
        _convert(file, staging)
        os.rename(staging, target)  # atomic; fails when another process got there first
    except OSError:  # lost the race, or the cache cannot be written: read the GGUF itself then
        shutil.rmtree(staging, ignore_errors=True)
        return target if (target / "config.json").is_file() else None
    except BaseException:  # a file transformers cannot read: leave no half-written folder behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _convert(file: Path, folder: Path) -> None:
    import torch

    model, tokenizer = _from_gguf(file, torch.float32)  # the dequantised weights, exactly
    model.hf_quantizer = None  # the GGUF "quantizer" only marks the weights as read from a GGUF
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    except ValueError as exc:  # a transformers version that refuses to save it
        raise OSError(str(exc)) from None


def _head_is_linear(model: Any, tokenizer: Any) -> bool:
    """Whether the logits are just the output layer applied to the last hidden state. Some heads
    do more (Gemma 2's soft-capping, Granite's scaling): those are scored from full logits."""
    import torch

    head, base = model.get_output_embeddings(), getattr(model, "base_model", None)
    if head is None or base is None or base is model:
        return False
    ids = torch.tensor([tokenizer.encode("The quick brown fox jumps over the lazy dog.")[:12] or [0]],
                       device=next(model.parameters()).device)
    with torch.inference_mode():
        expected = model(input_ids=ids).logits.float()
        got = head(base(input_ids=ids).last_hidden_state).float()
    tolerance = 1e-4 if model.dtype == torch.float32 else 2e-2
    return bool(torch.allclose(got, expected, rtol=tolerance, atol=tolerance))

