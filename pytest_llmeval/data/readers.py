"""Files to rows, with every parser failure turned into a one-line ``DataError`` naming the file.

pandas (C parser) reads CSV because it copes with what the real benchmark files contain: CRLF,
bare CR inside quoted fields, multi-line fields and missing final newlines. Lines are never split
by hand. pandas and pyarrow are imported on first use, so importing the plugin stays cheap.

Every row knows where it is, the way a user reads the file (``Table.where``): JSON Lines and CSV
by the 1-based line the row starts on (a CSV header is line 1; a quoted cell spanning lines moves
the following rows down), other formats by the 1-based row. pandas cannot say where a row
started, nor tell a row with too few fields from one whose last cells are empty, so a second,
cheap pass with the standard ``csv`` module (about a quarter of pandas' time) finds both. Should
the two parsers ever disagree on a file's rows, rows are numbered instead of lines.

A file with no rows is an error (``no_rows``, raised by the loaders once its columns are
checked): a subject that quietly disappears would take its threshold with it. A gzip file is
read as such whatever its name.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, DataError, detail

__all__ = ["Table", "no_rows", "open_binary", "read_csv", "read_csv_table", "read_jsonl", "read_parquet"]


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
        """``file:line`` of the row, or ``file: row N`` (1-based) where lines are not known."""
        return f"{self.path}:{self.lines[index]}" if self.lines else f"{self.path}: row {index + 1}"


_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def no_rows(path: Path, what: str = "no rows") -> DataError:
    """The one error for a data file without samples (loaders raise it after checking columns)."""
    return DataError(f"{what}; a data file needs at least one sample (remove the file, or fill it)", where=str(path))


def read_csv(path: Path, *, header: bool) -> tuple[Any, list[int] | None]:
    """A DataFrame where every cell is a ``str``, and the line each of its rows starts on.

    NA detection is off so MMLU's literal "None" options (and empty cells) stay text; utf-8-sig
    drops the BOM that would otherwise rename TruthfulQA v1's first column to ``\\ufeffType``.
    A row with fewer fields than the header is a DataError naming its line (pandas would fill
    the missing cells with empty text, and the sample would be asked with options missing), and
    so is one with more (pandas would take its first cell as an index and shift the rest).
    """
    pandas: Any = importlib.import_module("pandas")
    gz = _is_gzip(path)
    try:
        frame = pandas.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False,
                                na_filter=False, encoding="utf-8-sig", compression="gzip" if gz else "infer")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", where=str(path)) from None
    except (ValueError, OSError, EOFError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        if type(exc).__name__ == "EmptyDataError":
            raise no_rows(path, "the file is empty") from None
        raise DataError(f"cannot read CSV ({detail(exc)})", where=str(path)) from None
    return frame, _csv_lines(path, gz, len(frame), len(frame.columns), header)


def _csv_lines(path: Path, gz: bool, rows: int, width: int, header: bool) -> list[int] | None:
    """The 1-based line each data row starts on (blank lines skipped, as pandas skips them), or
    None when the csv module does not see the rows pandas saw. A row with fewer or more fields
    than the header is a DataError."""
    starts: list[tuple[int, int]] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # long passages: the default limit (128 KiB) is per cell
    try:
        with open_binary(path, gz) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            reader, previous = csv.reader(text), 0
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if record:
                    starts.append((start, len(record)))
    except (csv.Error, OSError, EOFError, UnicodeDecodeError):
        return None
    finally:
        csv.field_size_limit(limit)
    data = starts[1:] if header else starts
    if len(data) != rows:
        return None
    ragged = next(((line, found) for line, found in data if found != width), None)
    if ragged is not None:  # too many: pandas would quietly take the first cell as an index
        line, found = ragged
        raise DataError(f"{found} fields, expected {width} (a row with too {'few' if found < width else 'many'} fields)",
                        where=f"{path}:{line}")
    return [line for line, _ in data]


def read_csv_table(path: Path) -> Table:
    frame, lines = read_csv(path, header=True)
    columns = tuple(str(c) for c in frame.columns)
    rows = [dict(zip(columns, values)) for values in frame.to_numpy().tolist()]
    return Table(path, columns, rows, lines)


def open_binary(path: Path, gz: bool | None = None) -> IO[bytes] | gzip.GzipFile:
    """The file's bytes, decompressed when it is gzip (HumanEval ships as .jsonl.gz)."""
    if _is_gzip(path) if gz is None else gz:
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
        with open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = _decode(raw, f"{path}:{number}", bom=number == 1)
                if line.strip():
                    rows.append(_parse_line(line, f"{path}:{number}"))
                    lines.append(number)
    except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise DataError(f"cannot read JSON Lines ({detail(exc)})", where=str(path)) from None
    return Table(path, None, rows, lines)


def _decode(raw: bytes, where: str, *, bom: bool) -> str:
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line)", where=where) from None


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        row = json.loads(line.rstrip("\r\n"))
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
        raise DataError(f"cannot read parquet ({detail(exc)})", where=str(path)) from None
    return Table(path, tuple(table.column_names), table.to_pylist())
