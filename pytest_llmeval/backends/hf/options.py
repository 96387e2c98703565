"""The ``hf`` backend's settings: which model to load, and the ``options`` of its profile, checked.

Every bad value is a one-line ``ConfigError`` naming the key, raised before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..base import BackendSettings

__all__ = ["BUNDLED_NAMES", "DEFAULT_BATCH_SIZE", "MAX_SEQ_LEN_CAP", "HFOptions", "model_source", "parse_options",
           "resolve_device", "resolve_dtype"]

DEFAULT_BATCH_SIZE = 16
MAX_SEQ_LEN_CAP = 4096  # a model's own limit can be 128k positions: more than a CPU (or a batch) can hold
BUNDLED_NAMES = frozenset({"smollm2", "SmolLM2-135M-Instruct"})
_DTYPES = ("auto", "float32", "bfloat16", "float16")
_KEYS = ("dtype", "device", "max_seq_len", "batch_size", "chat_template", "n_threads")


@dataclass(frozen=True, slots=True)
class HFOptions:
    dtype: str = "auto"
    device: str = "auto"
    max_seq_len: int | None = None  # None: the model's max positions, capped at MAX_SEQ_LEN_CAP
    batch_size: int = DEFAULT_BATCH_SIZE
    chat_template: bool | None = None  # None: the tokenizer's chat template when it has one
    n_threads: int | None = None  # None: half the usable cores (see llamacpp.default_threads)


def parse_options(extra: dict[str, Any]) -> HFOptions:
    unknown = sorted(set(extra) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown option for backend hf (expected {', '.join(_KEYS)})", key=unknown[0])
    dtype = extra.get("dtype", "auto")
    if dtype not in _DTYPES:
        raise ConfigError(f"expected one of {', '.join(_DTYPES)}, got {dtype!r}", key="dtype")
    device = extra.get("device", "auto")
    if not isinstance(device, str) or not _is_device(device):
        raise ConfigError(f"expected cpu, cuda, cuda:N or auto, got {device!r}", key="device")
    chat_template = extra.get("chat_template")
    if chat_template is not None and not isinstance(chat_template, bool):
        raise ConfigError(f"expected true or false, got {chat_template!r}", key="chat_template")
    max_seq_len = _positive_int(extra, "max_seq_len", None)
    batch_size = _positive_int(extra, "batch_size", DEFAULT_BATCH_SIZE)
    assert batch_size is not None
    return HFOptions(dtype, device, max_seq_len, batch_size, chat_template, _positive_int(extra, "n_threads", None))


def _is_device(value: str) -> bool:
    name, colon, index = value.partition(":")
    if name in ("cpu", "auto"):
        return not colon
    return name == "cuda" and (not colon or index.isdigit())


def _positive_int(extra: dict[str, Any], key: str, default: int | None) -> int | None:
    value = extra.get(key, default)
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected a positive integer, got {value!r}", key=key)
    return value


def model_source(settings: BackendSettings) -> Path:
    """``model_path``; else ``model`` when it names a local path; else the bundled SmolLM2 GGUF for
    its names. Nothing is ever downloaded, so any other model name is an error."""
    if settings.model_path:
        return Path(settings.model_path).expanduser().resolve()
    if settings.model and Path(settings.model).expanduser().exists():
        return Path(settings.model).expanduser().resolve()
    if settings.model in BUNDLED_NAMES or not settings.model:
        from ..bundled import bundled_model_path

        return bundled_model_path().resolve()
    raise ConfigError(f"backend hf loads local models only: set model_path to a model folder or a .gguf file "
                      f"for model {settings.model!r}", key="model_path")


def resolve_device(torch: Any, device: str) -> str:
    """``auto`` is the first GPU when torch sees one; a GPU torch cannot see is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{device} requested, but this torch build sees no CUDA device", key="device")
    return device


def resolve_dtype(torch: Any, dtype: str, device: str) -> str:
    """``auto``: float32 on CPU (exact, and what lm-evaluation-harness uses there); bfloat16 on a
    GPU that supports it, else float16."""
    if dtype != "auto":
        return dtype
    if device == "cpu":
        return "float32"
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
