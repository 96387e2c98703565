"""Dataset loaders: every supported layout becomes ``{subject: [Sample, ...]}``.

Standard layouts know their files' quirks (see ../shared/data/SOURCES.md): MMLU has no header and
literal "None" options; CMMLU has an unnamed index column; C-Eval mixes CRLF and multi-line
fields and its test split has no answers; GSM8K keeps the final answer after "####" with
thousands commas. CSVs are read as strings with NA detection off, so nothing is silently turned
into NaN. Default split: ``test``, except C-Eval (``val``: its test split has no answers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..samples import CHOICE_LABELS, Sample

__all__ = ["FORMATS", "DataSpec", "gsm8k_target", "load"]

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "mmlu", "cmmlu", "ceval", "gsm8k", "hf")
_DEFAULT_SPLIT = {"mmlu": "test", "cmmlu": "test", "ceval": "val", "gsm8k": "test"}
_EXT = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)


@dataclass(frozen=True, slots=True)
class DataSpec:
    format: str
    path: Path
    split: str | None = None
    fields: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    subject: str | None = None
    where: str = ""


def gsm8k_target(answer: str) -> str | None:
    """The final answer after the last ``####``, thousands commas removed; None when absent."""
    if "####" not in answer:
        return None
    final = answer.rsplit("####", 1)[1].strip()
    return final.replace(",", "") or None


def _read_csv(path: Path, header: bool) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False,
                           na_filter=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"cannot read CSV ({str(exc).splitlines()[0]})", where=str(path)) from None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", where=f"{path}:{number}") from None
            if not isinstance(row, dict):
                raise DataError(f"expected a JSON object per line, got {type(row).__name__}", where=f"{path}:{number}")
            rows.append(row)
    return rows


def _rows(fmt: str, path: Path) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "csv":
        return list(_read_csv(path, header=True).to_dict("records"))
    if fmt == "parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise ConfigError("data.format parquet needs pyarrow: pip install 'pytest-llmeval[parquet]'") from None
        except Exception as exc:  # pyarrow raises its own error tree
            raise DataError(f"cannot read parquet ({str(exc).splitlines()[0]})", where=str(path)) from None
        return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    raise ConfigError(f"data.format: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def _files(spec: DataSpec, split: str | None, ext: str) -> list[tuple[Path, str]]:
    """(file, subject from the file name) pairs, following the folder rules in the README."""
    path = spec.path
    if not path.exists():
        raise DataError(f"data path does not exist: {path}", where=spec.where or None, key="data.path")
    if path.is_file():
        return [(path, path.stem)]
    if split:
        if (path / split).is_dir():
            return [(f, f.stem.removesuffix(f"_{split}")) for f in sorted((path / split).glob(f"*{ext}"))]
        suffixed = sorted(path.glob(f"*_{split}{ext}"))
        if suffixed:
            return [(f, f.stem.removesuffix(f"_{split}")) for f in suffixed]
        if (path / f"{split}{ext}").is_file():
            return [(path / f"{split}{ext}", split)]
        raise DataError(f"no {ext} files for split {split!r} in {path}", where=spec.where or None, key="data.split")
    files = sorted(path.glob(f"*{ext}"))
    if not files:
        raise DataError(f"no {ext} files in {path}", where=spec.where or None, key="data.path")
    return [(f, f.stem) for f in files]


def _column(spec: DataSpec, row: Mapping[str, Any], name: str, where: Path) -> str | None:
    mapped = spec.fields.get(name)
    if mapped is None:
        return None
    if not isinstance(mapped, str) or mapped not in row:
        raise DataError(f"column {mapped!r} not found in {where} (columns: {', '.join(map(str, row))})",
                        key=f"fields.{name}")
    return mapped


def _generic_sample(spec: DataSpec, row: dict[str, Any], index: int, file: Path, file_subject: str) -> Sample:
    def pick(name: str, *fallbacks: str) -> Any:
        column = _column(spec, row, name, file)
        if column is not None:
            return row[column]
        for candidate in (name, *fallbacks):
            if candidate in row:
                return row[candidate]
        return None

    choices_map = spec.fields.get("choices")
    if isinstance(choices_map, (list, tuple)):
        missing = [c for c in choices_map if c not in row]
        if missing:
            raise DataError(f"column {missing[0]!r} not found in {file} (columns: {', '.join(map(str, row))})",
                            key="fields.choices")
        choices = [row[c] for c in choices_map]
    else:
        raw = pick("choices")
        if raw is None:
            raw = [row[label] for label in CHOICE_LABELS[:10] if label in row]
            raw = raw if "A" in row and "B" in row else []
        choices = list(raw) if isinstance(raw, (list, tuple)) else []
    ident, subject, target = pick("id"), pick("subject"), pick("target", "answer")
    fields = dict(row)
    fields["question"] = pick("question")
    fields.update({label: text for label, text in zip(CHOICE_LABELS, choices)})
    target_text = None if target is None or target == "" else str(target)
    fields["target"] = target_text
    return Sample(
        id=str(ident) if ident is not None and ident != "" else str(index),
        subject=str(subject) if subject else (spec.subject or file_subject),
        fields=fields, target=target_text, choices=tuple("" if c is None else str(c) for c in choices),
    )


def _group(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for sample in samples:
        out.setdefault(sample.subject, []).append(sample)
    return out


def _load_generic(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    if spec.format == "hf":
        return _load_hf(spec, split)
    ext = _EXT.get(spec.format)
    if ext is None:
        raise ConfigError(f"unknown format {spec.format!r} (expected one of {', '.join(FORMATS)})", key="data.format")
    samples = []
    for file, file_subject in _files(spec, split, ext):
        try:
            rows = _rows(spec.format, file)
        except DataError as exc:
            raise DataError(exc.detail, where=exc.where or str(file), key=exc.key) from None
        for index, row in enumerate(rows):
            samples.append(_generic_sample(spec, row, index, file, file_subject))
    return _group(samples)


def _load_hf(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets
    except ImportError:
        raise ConfigError("data.format hf needs the 'datasets' package: pip install 'pytest-llmeval[hf-data]'") from None
    if not spec.path.exists():
        raise DataError(f"data path does not exist: {spec.path}", where=spec.where or None, key="data.path")
    try:
        loaded = datasets.load_from_disk(str(spec.path))
    except FileNotFoundError:
        loaded = datasets.load_dataset(str(spec.path), split=split or "test")
    if isinstance(loaded, datasets.DatasetDict):
        name = split or "test"
        if name not in loaded:
            raise DataError(f"no split {name!r} (splits: {', '.join(loaded)})", where=str(spec.path), key="data.split")
        loaded = loaded[name]
    return _group(_generic_sample(spec, dict(row), i, spec.path, spec.path.name) for i, row in enumerate(loaded))


def _mc_samples(rows: list[list[str]], subject: str, ids: list[str] | None, answers: list[str] | None,
                extra: dict[str, list[str]]) -> list[Sample]:
    out = []
    for i, row in enumerate(rows):
        question, *choices = row
        target = answers[i] if answers is not None else None
        fields: dict[str, Any] = {"question": question, **dict(zip("ABCD", choices)), "answer": target, "target": target}
        for name, column in extra.items():
            fields[name] = column[i]
        out.append(Sample(id=ids[i] if ids else str(i), subject=subject, fields=fields, target=target,
                          choices=tuple(choices)))
    return out


def _standard_files(spec: DataSpec, split: str, pattern: str, ext: str) -> list[tuple[Path, str]]:
    path = spec.path
    if not path.exists():
        raise DataError(f"data path does not exist: {path}", where=spec.where or None, key="data.path")
    if path.is_file():
        return [(path, path.stem.removesuffix(f"_{split}"))]
    folder = path / split if (path / split).is_dir() else path
    suffix = pattern.format(split=split)
    files = sorted(folder.glob(f"*{suffix}{ext}"))
    if not files:
        raise DataError(f"no *{suffix}{ext} files for split {split!r} in {folder}", where=spec.where or None, key="data.split")
    return [(f, f.stem.removesuffix(suffix)) for f in files]


def _expect_columns(frame: Any, file: Path, wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"missing column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})", where=str(file))


def _load_mmlu(spec: DataSpec, split: str) -> dict[str, list[Sample]]:
    out = {}
    for file, subject in _standard_files(spec, split, "_{split}", ".csv"):
        frame = _read_csv(file, header=False)
        if frame.shape[1] != 6:
            raise DataError(f"expected 6 columns (question, A, B, C, D, answer), found {frame.shape[1]}", where=str(file))
        values = frame.to_numpy().tolist()
        out[subject] = _mc_samples([r[:5] for r in values], subject, None, [r[5] for r in values], {})
    return out


def _load_cmmlu(spec: DataSpec, split: str) -> dict[str, list[Sample]]:
    out = {}
    for file, subject in _standard_files(spec, split, "", ".csv"):
        frame = _read_csv(file, header=True)
        _expect_columns(frame, file, ["Question", "A", "B", "C", "D", "Answer"])
        index = frame.columns[0]
        rows = frame[["Question", "A", "B", "C", "D"]].to_numpy().tolist()
        out[subject] = _mc_samples(rows, subject, frame[index].tolist(), frame["Answer"].tolist(), {})
    return out


def _load_ceval(spec: DataSpec, split: str) -> dict[str, list[Sample]]:
    out = {}
    for file, subject in _standard_files(spec, split, "_{split}", ".csv"):
        frame = _read_csv(file, header=True)
        _expect_columns(frame, file, ["id", "question", "A", "B", "C", "D"])
        rows = frame[["question", "A", "B", "C", "D"]].to_numpy().tolist()
        answers = frame["answer"].tolist() if "answer" in frame.columns else None
        extra = {"explanation": frame["explanation"].tolist()} if "explanation" in frame.columns else {}
        out[subject] = _mc_samples(rows, subject, frame["id"].tolist(), answers, extra)
    return out


def _load_gsm8k(spec: DataSpec, split: str) -> dict[str, list[Sample]]:
    path = spec.path
    file = path if path.is_file() else path / f"{split}.jsonl"
    if not file.is_file():
        raise DataError(f"no file {file}", where=spec.where or None, key="data.path")
    subject = spec.subject or "gsm8k"
    samples = []
    for index, row in enumerate(_read_jsonl(file)):
        answer = str(row.get("answer", ""))
        target = gsm8k_target(answer)
        if target is None or "question" not in row:
            raise DataError("expected 'question' and an 'answer' ending in '#### <number>'", where=f"{file}:{index + 1}")
        samples.append(Sample(id=str(index), subject=subject,
                              fields={**row, "target": target}, target=target))
    return {subject: samples}


_STANDARD = {"mmlu": _load_mmlu, "cmmlu": _load_cmmlu, "ceval": _load_ceval, "gsm8k": _load_gsm8k}


def load(spec: DataSpec, split: str | None = None) -> dict[str, list[Sample]]:
    """subject -> samples in file order; ``split`` overrides ``spec.split`` (few-shot examples)."""
    chosen = split or spec.split
    if spec.format in _STANDARD:
        return _STANDARD[spec.format](spec, chosen or _DEFAULT_SPLIT[spec.format])
    if spec.format not in FORMATS:
        raise ConfigError(f"unknown format {spec.format!r} (expected one of {', '.join(FORMATS)})", key="data.format")
    return _load_generic(spec, chosen)
