"""``format: json``, the format added through the registry alone: a JSON array of row objects."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pytest_llmeval.data import DataSpec, load
from pytest_llmeval.data.formats import REGISTRY, format_for_suffix
from pytest_llmeval.data.json import read_json_array
from pytest_llmeval.errors import DataError

ROWS = [{"id": "a", "question": "1+1?", "answer": {"sum": 2}}, {"id": "b", "question": "Colours?", "answer": ["red"]}]


def test_rows_are_numbered_and_objects_become_json_targets(tmp_path: Path) -> None:
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    table = read_json_array(path)
    assert table.rows == ROWS and table.where(1) == f"{path}: row 2"
    samples = load(DataSpec(format="json", path=path))["quiz"]
    assert [(s.id, s.target, s.origin) for s in samples] == [
        ("a", '{"sum": 2}', f"{path}: row 1"), ("b", '["red"]', f"{path}: row 2")]


def test_a_folder_split_and_a_gzipped_file(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "algebra.json").write_bytes(gzip.compress(json.dumps(ROWS).encode()))
    assert [s.id for s in load(DataSpec(format="json", path=tmp_path, split="test"))["algebra"]] == ["a", "b"]


@pytest.mark.parametrize(("text", "where", "what"), [
    ('[{"id": "a"},\n {"id": }]', ":2", "invalid JSON (Expecting value at column 9)"),
    ('{"id": "a"}', "", "expected a JSON array of row objects, got dict (one object per line is format: jsonl)"),
    ('[{"id": "a"}, 7]', ": row 2", "expected a JSON object, got int"),
    ("[]", "", "no rows; a data file needs at least one sample"),
])
def test_bad_files_are_one_line_naming_the_spot(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load(DataSpec(format="json", path=path))
    assert str(info.value).startswith(f"{path}{where}: {what}") and "\n" not in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes('[{"q": "café"}]'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_json_array(path)


def test_registered_with_its_suffix() -> None:
    assert REGISTRY["json"].suffix == ".json"
    assert format_for_suffix(Path("x/quiz.json")) == "json" and format_for_suffix(Path("q.jsonl")) == "jsonl"
    assert format_for_suffix(Path("q.txt")) is None
