"""The one entry point: pick the loader for ``data.format`` and check the path exists first."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..samples import Sample
from .generic import load_generic
from .gsm8k import load_gsm8k
from .hf import load_hf
from .paths import require_path
from .spec import FORMATS, DataSpec
from .standard import load_ceval, load_cmmlu, load_mmlu

__all__ = ["load"]

_Loader = Callable[[DataSpec, "str | None"], dict[str, list[Sample]]]
_LOADERS: dict[str, _Loader] = {
    "jsonl": load_generic, "csv": load_generic, "parquet": load_generic, "hf": load_hf,
    "mmlu": load_mmlu, "cmmlu": load_cmmlu, "ceval": load_ceval, "gsm8k": load_gsm8k,
}


def load(spec: DataSpec, split: str | None = None) -> dict[str, list[Sample]]:
    """subject -> samples in file order. ``split`` overrides ``spec.split`` (to load the few-shot split).

    Loaders get the explicit split or None and apply their own default, because a standard
    layout pointed at a split folder takes the split from the folder's name.
    """
    loader = _LOADERS.get(spec.format)
    if loader is None:
        raise ConfigError(f"unknown format {spec.format!r} (expected one of: {', '.join(FORMATS)})",
                          where=spec.where or None, key="data.format")
    require_path(spec)
    return loader(spec, split or spec.split)
