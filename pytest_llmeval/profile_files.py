"""Where model profiles live. Kept apart from ``profiles`` (pydantic, yaml) because every pytest
run looks for these files, and most runs in an environment evaluate nothing."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROFILES_FILE", "find_profile_files"]

PROFILES_FILE = "llm_models.yaml"


def find_profile_files(inipath: Path | None, rootpath: Path, args: list[str], invocation_dir: Path) -> list[Path]:
    """Profile files in precedence order: beside the ini file, the rootdir, then each given path."""
    candidates: list[Path] = []
    if inipath is not None:
        candidates.append(inipath.parent / PROFILES_FILE)
    candidates.append(rootpath / PROFILES_FILE)
    for arg in args:
        target = (invocation_dir / arg.split("::")[0]).resolve()
        folder = target if target.is_dir() else target.parent
        candidates.append(folder / PROFILES_FILE)
    seen: dict[Path, None] = {}
    for path in candidates:
        if path.is_file():
            seen.setdefault(path.resolve(), None)
    return list(seen)
