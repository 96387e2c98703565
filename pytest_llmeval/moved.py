"""Import paths that moved in the reorganisation after 0.1.0 keep working, with a DeprecationWarning,
for one minor version: they go in 0.2.

An old module keeps only ``__getattr__ = moved(__name__, "new.module")``: every name read from it
is the new module's object (so ``isinstance`` and ``is`` checks still hold), and each read warns
once per call site, naming the new path, so a user's code says where to change it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["REMOVED_IN", "moved"]

REMOVED_IN = "0.2"


def moved(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that forwards to ``new`` and warns."""

    def forward(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new), name)
        warnings.warn(f"{old}.{name} moved to {new}.{name}; the old path goes in pytest-llmeval {REMOVED_IN}",
                      DeprecationWarning, stacklevel=2)
        return value

    return forward
