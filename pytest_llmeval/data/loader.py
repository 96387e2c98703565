"""The one entry point: pick the loader for ``data.format`` (``formats.REGISTRY``) and check the path exists first."""

from __future__ import annotations

from ..errors import ConfigError
from ..samples import Sample
from .formats import FORMATS, REGISTRY
from .paths import require_path
from .spec import DataSpec

__all__ = ["load"]


def load(spec: DataSpec, split: str | None = None) -> dict[str, list[Sample]]:
    """subject -> samples in file order. ``split`` overrides ``spec.split`` (to load the few-shot split).

    Loaders get the explicit split or None and apply their own default, because a standard
    layout pointed at a split folder takes the split from the folder's name.
    """
    fmt = REGISTRY.get(spec.format)
    if fmt is None:
        raise ConfigError(f"unknown format {spec.format!r} (expected one of: {', '.join(FORMATS)})",
                          where=spec.where or None, key="data.format")
    require_path(spec)
    return fmt.load(spec, split or spec.split)
