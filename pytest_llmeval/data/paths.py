"""Which files a spec means, and which subject each file holds.

Generic formats (``jsonl``, ``csv``, ``parquet``) with a split S look in turn for ``<folder>/S/*``,
``<folder>/*_S.*`` and ``<folder>/S.*``; without a split, every file of the folder. The
per-subject CSV layouts (MMLU, CMMLU, C-Eval) accept the dataset root, one split folder, or one
file. Subjects come from file names, so that the evaluated split and the few-shot split agree.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .spec import DataSpec

__all__ = ["generic_files", "layout_files", "require_path"]

FileSubject = tuple[Path, str]


def require_path(spec: DataSpec) -> None:
    if not spec.path.exists():
        raise DataError(f"data path does not exist: {spec.path}", where=spec.where or None, key="data.path")


def _stem(path: Path) -> str:
    """``HumanEval.jsonl.gz`` names subject ``HumanEval``, as ``HumanEval.jsonl`` would."""
    return Path(path.name.removesuffix(".gz")).stem


def _listed(folder: Path, pattern: str) -> list[Path]:
    """Sorted, so subjects and row order never depend on the file system's listing order."""
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def _missing(spec: DataSpec, message: str, key: str) -> DataError:
    return DataError(message, where=spec.where or None, key=key)


def generic_files(spec: DataSpec, split: str | None, ext: str) -> list[FileSubject]:
    path = spec.path
    if path.is_file():
        return [(path, _stem(path))]
    if split is None:
        files = _listed(path, f"*{ext}")
        if not files:
            raise _missing(spec, f"no *{ext} files in {path}", "data.path")
        return [(f, f.stem) for f in files]
    return _split_files(spec, split, ext)


def _split_files(spec: DataSpec, split: str, ext: str) -> list[FileSubject]:
    path, suffix = spec.path, f"_{split}"
    if (path / split).is_dir():
        files = _listed(path / split, f"*{ext}")
    else:
        files = _listed(path, f"*{suffix}{ext}")
    if files:
        return [(f, f.stem.removesuffix(suffix)) for f in files]
    single = path / f"{split}{ext}"
    if single.is_file():  # dev.jsonl beside test.jsonl: one subject, named after the folder
        return [(single, path.name)]
    raise _missing(spec, f"no data for split {split!r} in {path} (looked for {split}/*{ext}, *{suffix}{ext}, "
                         f"{split}{ext})", "data.split")


def layout_files(spec: DataSpec, split: str | None, default: str, *, suffixed: bool) -> list[FileSubject]:
    """(CSV file, subject) pairs; ``suffixed``: file names end in ``_<split>`` (MMLU, C-Eval).

    A single file is one subject: ``data.subject`` if set, else its name less the split suffix.

    Pointed at a split folder without naming a split, the folder's own name is the split, so
    ``path: mmlu/dev`` needs no ``split: dev`` beside it.
    """
    path = spec.path
    if path.is_file():
        names = [n for n in (split, path.parent.name, default) if n]
        return [(path, spec.subject or (_strip_split(path.stem, names) if suffixed else path.stem))]
    wanted = split or default
    folder, name = (path / wanted, wanted) if (path / wanted).is_dir() else (path, split or path.name)
    pattern = f"*_{name}.csv" if suffixed else "*.csv"
    files = _listed(folder, pattern)
    if not files:
        raise _missing(spec, f"no split folder {wanted!r} and no {pattern} files in {folder}", "data.split")
    return [(f, f.stem.removesuffix(f"_{name}") if suffixed else f.stem) for f in files]


def _strip_split(stem: str, names: list[str]) -> str:
    for name in names:
        if stem.endswith(f"_{name}"):
            return stem.removesuffix(f"_{name}")
    return stem
