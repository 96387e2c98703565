"""The ``hf`` backend family: local models through HuggingFace transformers.

    backend.py   HFBackend (``backend: hf``): ``gen`` and ``ll``, batched, on CPU or GPU
    options.py   which model to load, and the profile's options, checked
    load.py      one loaded model per (source, dtype, device) per process; GGUF converted once
    generate.py  batched generation; score.py: log-likelihoods as lm-evaluation-harness's ``hf``

``HFBackend`` is importable from here, as before the family became a package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HFBackend"]


def __getattr__(name: str) -> Any:
    """``HFBackend`` on first use: importing the package stays cheap (no torch, no transformers)."""
    if name == "HFBackend":
        from .backend import HFBackend

        return HFBackend
    raise AttributeError(name)
