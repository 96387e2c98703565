"""Reading HumanEval: the real gzipped file, a plain .jsonl, and one line for each kind of bad row."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmeval.data.humaneval import read_humaneval
from pytest_llmeval.errors import DataError
from tests._shared_data import SHARED_DATA, requires_shared_data

_ROW = {"task_id": "t/0", "prompt": "def one():\n", "canonical_solution": "    return 1\n",
        "test": "def check(candidate):\n    assert candidate() == 1\n", "entry_point": "one"}


@requires_shared_data
def test_the_real_file_has_164_problems_in_order() -> None:
    assert SHARED_DATA is not None
    problems = read_humaneval(SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz")
    assert [p.task_id for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    first = problems[0]
    assert first.entry_point == "has_close_elements"
    assert first.prompt.startswith("from typing import List\n\n\ndef has_close_elements(")
    assert first.canonical_solution is not None and "abs(elem - elem2)" in first.canonical_solution
    assert "def check(candidate):" in first.test
    assert first.where.endswith("HumanEval.jsonl.gz:1")
    assert problems[163].where.endswith(":164")


@requires_shared_data
def test_the_example_problem_reads_as_plain_jsonl() -> None:
    assert SHARED_DATA is not None
    [problem] = read_humaneval(SHARED_DATA / "humaneval" / "example_problem.jsonl")
    assert (problem.task_id, problem.entry_point, problem.prompt) == ("test/0", "return1", "def return1():\n")


def test_gzipped_and_plain_read_alike(tmp_path: Path) -> None:
    text = json.dumps(_ROW) + "\n" + json.dumps({**_ROW, "task_id": "t/1"}) + "\n"
    (tmp_path / "p.jsonl").write_text(text)
    with gzip.open(tmp_path / "p.jsonl.gz", "wt") as handle:
        handle.write(text)
    plain, zipped = read_humaneval(tmp_path / "p.jsonl"), read_humaneval(tmp_path / "p.jsonl.gz")
    assert [replace(p, where="") for p in plain] == [replace(p, where="") for p in zipped]
    assert [p.where for p in zipped] == [f"{tmp_path / 'p.jsonl.gz'}:1", f"{tmp_path / 'p.jsonl.gz'}:2"]


def test_canonical_solution_may_be_absent(tmp_path: Path) -> None:
    row = {k: v for k, v in _ROW.items() if k != "canonical_solution"}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    assert read_humaneval(tmp_path / "p.jsonl")[0].canonical_solution is None


@pytest.mark.parametrize(("row", "needle"), [
    ({"prompt": None}, ":2: prompt: expected a string, found a NoneType"),
    ({"test": 3}, ":2: test: expected a string, found a int"),
    ({"entry_point": "not a name"}, ":2: entry_point: expected a Python function name, found 'not a name'"),
    ({"canonical_solution": ["x"]}, ":2: canonical_solution: expected a string, found a list"),
    ({"test": "def check(candidate)\n    pass\n"}, ":2: test: not valid Python (expected ':' at line 1 of the field)"),
    ({"test": "def verify(candidate):\n    pass\n"}, ":2: test: defines no check(candidate) function"),
    ({"task_id": "t/0"}, ":2: task_id: task_id 't/0' repeats the problem at "),
])
def test_a_bad_row_is_one_line_naming_file_line_and_field(tmp_path: Path, row: dict[str, object], needle: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(_ROW) + "\n" + json.dumps({**_ROW, "task_id": "t/1", **row}) + "\n")
    with pytest.raises(DataError) as info:
        read_humaneval(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:2: ")
    assert needle in message


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({k: v for k, v in _ROW.items() if k != "entry_point"}) + "\n")
    with pytest.raises(DataError, match=r"p\.jsonl:1: entry_point: expected a string, found missing$"):
        read_humaneval(path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("\n")
    with pytest.raises(DataError, match=r"p\.jsonl: no problems in the file$"):
        read_humaneval(path)


def test_a_truncated_gzip_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(_ROW) + "\n").encode() * 50)[:-30])
    with pytest.raises(DataError, match=r"p\.jsonl\.gz: cannot read JSON Lines"):
        read_humaneval(path)
