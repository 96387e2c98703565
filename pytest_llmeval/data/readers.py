"""Files to rows, with every parser failure turned into a one-line ``DataError`` naming the file.

pandas (C parser) reads CSV because it copes with what the real benchmark files contain: CRLF,
bare CR inside quoted fields, multi-line fields and missing final newlines. Lines are never split
by hand. pandas and pyarrow are imported on first use, so importing the plugin stays cheap.
"""

from __future__ import annotations

import gzip
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, DataError

__all__ = ["Table", "read_csv", "read_csv_table", "read_jsonl", "read_parquet"]


@dataclass(frozen=True, slots=True)
class Table:
    """The rows of one file, plus enough to point an error at a row.

    ``columns`` is None for JSON Lines, where each object may have its own keys; ``lines`` holds
    the source line of each row when the format has meaningful line numbers.
    """

    path: Path
    columns: tuple[str, ...] | None
    rows: list[dict[str, Any]]
    lines: list[int] | None = None

    def where(self, index: int) -> str:
        return f"{self.path}:{self.lines[index]}" if self.lines else str(self.path)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def read_csv(path: Path, *, header: bool) -> Any:
    """A DataFrame where every cell is a ``str``.

    NA detection is off so MMLU's literal "None" options (and empty cells) stay text; utf-8-sig
    drops the BOM that would otherwise rename TruthfulQA v1's first column to ``\\ufeffType``.
    """
    pandas: Any = importlib.import_module("pandas")
    try:
        return pandas.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False,
                               na_filter=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", where=str(path)) from None
    except (ValueError, OSError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise DataError(f"cannot read CSV ({_first_line(exc)})", where=str(path)) from None


def read_csv_table(path: Path) -> Table:
    frame = read_csv(path, header=True)
    columns = tuple(str(c) for c in frame.columns)
    rows = [dict(zip(columns, values)) for values in frame.to_numpy().tolist()]
    return Table(path, columns, rows)


def _open_binary(path: Path) -> IO[bytes] | gzip.GzipFile:
    if path.suffix == ".gz":  # HumanEval ships as .jsonl.gz
        return gzip.open(path, "rb")
    return path.open("rb")


def read_jsonl(path: Path) -> Table:
    """One JSON object per line; blank lines are skipped but still counted for line numbers.

    Lines are decoded one by one so a bad byte is reported on its own line, not on whichever
    line a text decoder's buffer happened to start at.
    """
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        with _open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = _decode(raw, f"{path}:{number}", bom=number == 1)
                if line.strip():
                    rows.append(_parse_line(line, f"{path}:{number}"))
                    lines.append(number)
    except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise DataError(f"cannot read JSON Lines ({_first_line(exc)})", where=str(path)) from None
    return Table(path, None, rows, lines)


def _decode(raw: bytes, where: str, *, bom: bool) -> str:
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line)", where=where) from None


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", where=where) from None
    if not isinstance(row, dict):
        raise DataError(f"expected a JSON object, got {type(row).__name__}", where=where)
    return row


def read_parquet(path: Path) -> Table:
    """Through pyarrow rather than pandas, so nulls stay None (not NaN), an int column with a
    null stays int (ids "7", not "7.0") and list cells are plain lists, as JSON Lines gives them."""
    try:
        parquet: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigError("data.format parquet needs the 'pyarrow' package: "
                          "pip install pytest-llmeval[parquet]") from None
    try:
        table = parquet.read_table(path)
    except Exception as exc:  # pyarrow has its own exception tree; none of it may escape as a traceback
        raise DataError(f"cannot read parquet ({_first_line(exc)})", where=str(path)) from None
    return Table(path, tuple(table.column_names), table.to_pylist())
