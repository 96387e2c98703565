"""xdist scheduling that keeps each subject's samples (per model) on one worker.

A worker can then ask for all of a subject's samples ahead of time, knowing that no other worker
will ask for them too. Other tests keep one-test scopes, as ``--dist load`` gives them.
Chosen only when the user left ``--dist`` at its ``-n`` default (``load``) and the run evaluates
models (it names models or profiles, or its paths hold suite files), so other test suites that
merely have this plugin installed keep xdist's own scheduling.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

from ..identity import SUITE_MARK, SUITE_SUFFIX

__all__ = ["GROUPED_DISTS", "SUITE_MARK", "has_suite_files", "make_scheduler", "subject_scope"]

# Modes under which a suite's subject never spans two workers (ours, by module scope, by file).
GROUPED_DISTS = frozenset({"load", "loadscope", "loadfile"})


def subject_scope(nodeid: str) -> str:
    """``path.llmeval.yaml::subject::id[model]`` -> ``path.llmeval.yaml::subject[model]``."""
    if SUITE_MARK not in nodeid:
        return nodeid
    head, _, tail = nodeid.rpartition("::")
    bracket = tail.rfind("[")
    return f"{head}{tail[bracket:]}" if bracket >= 0 else head


def has_suite_files(args: list[str], root: Path, skip: list[str] | None = None) -> bool:
    """Whether the paths pytest was given hold a suite file. Stops at the first one, and skips the
    folders pytest itself does not enter (``norecursedirs``: virtualenvs, .git, build, ...)."""
    skip = skip or []
    for arg in args or ["."]:
        path = Path(arg.split("::")[0])
        path = path if path.is_absolute() else root / path
        if path.is_file() and path.name.endswith(SUITE_SUFFIX):
            return True
        if not path.is_dir():
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(d, pattern) for pattern in skip)]
            if any(name.endswith(SUITE_SUFFIX) for name in files):
                return True
    return False


def make_scheduler(config: Any, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class SubjectScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return subject_scope(nodeid)

    return SubjectScheduling(config, log)
