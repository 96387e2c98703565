"""Where the real third-party benchmark files are: ``$LLMEVAL_SHARED_DATA``, else ``../shared/data``.

Tests that read them carry ``requires_shared_data`` and skip with a reason when the folder is
absent, except under ``CI=true``: there a missing folder fails the run at import (collection
error), because CI must never go green by skipping the real-data tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["SHARED_DATA", "requires_shared_data"]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATE = Path(os.environ.get("LLMEVAL_SHARED_DATA") or _REPO_ROOT.parent / "shared" / "data")
_REASON = f"../shared/data not found; set LLMEVAL_SHARED_DATA (looked in {_CANDIDATE})"

SHARED_DATA: Path | None = _CANDIDATE if _CANDIDATE.is_dir() else None

if SHARED_DATA is None and os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
    raise RuntimeError(f"CI=true and the shared benchmark data is missing: {_REASON}")

requires_shared_data = pytest.mark.skipif(SHARED_DATA is None, reason=_REASON)
