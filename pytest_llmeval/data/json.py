"""``format: json``: one file holding a JSON array of row objects, as many exports write them.

Read whole with the standard ``json`` module (such files are small; a large set belongs in JSON
Lines). Rows are numbered (``file: row 3``) because one line may hold them all. A gzip file is
read as such whatever its name, as for JSON Lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError, detail
from .readers import Table, open_binary

__all__ = ["read_json_array"]


def read_json_array(path: Path) -> Table:
    """The rows of ``[{...}, {...}]``; anything else is a one-line ``DataError`` naming the spot."""
    try:
        with open_binary(path) as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise DataError(f"cannot read JSON ({detail(exc)})", where=str(path)) from None
    rows = _parse(raw, path)
    table = Table(path, None, rows)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", where=table.where(index))
    return table


def _parse(raw: bytes, path: Path) -> list[Any]:
    try:
        value = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", where=f"{path}:{exc.lineno}") from None
    if not isinstance(value, list):
        raise DataError(f"expected a JSON array of row objects, got {type(value).__name__} "
                        "(one object per line is format: jsonl)", where=str(path))
    return value
