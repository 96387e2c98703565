"""Where the real third-party benchmark files are: ``LLMEVAL_SHARED_DATA`` or ``../shared/data``.

Tests that read them skip with a reason when the folder is absent, except under ``CI=true``,
where a missing folder is a failure: CI must never pass by skipping the real-data tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATE = Path(os.environ.get("LLMEVAL_SHARED_DATA") or _ROOT.parent / "shared" / "data")
SHARED_DATA: Path | None = _CANDIDATE if _CANDIDATE.is_dir() else None

if SHARED_DATA is None and os.environ.get("CI", "").lower() == "true":
    raise RuntimeError(f"CI=true but the shared benchmark data is missing at {_CANDIDATE}; set LLMEVAL_SHARED_DATA")

requires_shared_data = pytest.mark.skipif(
    SHARED_DATA is None, reason=f"{_CANDIDATE} not found; set LLMEVAL_SHARED_DATA to the shared benchmark data")
