"""Whether the bubblewrap sandbox runs here, and the helpers its tests share.

Tests that need it carry ``requires_sandbox`` and skip with the reason when it does not run (no
``bwrap``, no user namespaces), except under ``CI=true``: CI installs bubblewrap (``.ci/run``),
so there a missing sandbox fails the run at import, as a missing ``../shared/data`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from pytest_llmeval.sandbox import sandbox_status

__all__ = ["SANDBOX_PROBLEM", "in_parallel", "processes_named", "requires_sandbox"]

SANDBOX_PROBLEM = sandbox_status()

if SANDBOX_PROBLEM is not None and os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
    raise RuntimeError(f"CI=true and the sandbox does not run here: {SANDBOX_PROBLEM}")

requires_sandbox = pytest.mark.skipif(SANDBOX_PROBLEM is not None, reason=f"no sandbox here: {SANDBOX_PROBLEM}")

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``function`` over ``items`` on as many threads as cores, results in order: as the plugin
    will run executions, and fast enough for CI."""
    with ThreadPoolExecutor(max_workers=max(2, len(os.sched_getaffinity(0)))) as pool:
        return list(pool.map(function, items))


def processes_named(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker``: how a test sees, from outside, processes a
    sandboxed program started (it names them by exec'ing with the marker as argv[0])."""
    return [int(entry.name) for entry in _proc_entries() if marker.encode() in _cmdline(entry)]


def _proc_entries() -> Iterator[Path]:
    return (entry for entry in Path("/proc").iterdir() if entry.name.isdigit())


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:  # the process ended while we looked
        return b""
