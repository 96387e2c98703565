"""TruthfulQA's ``mc_task.json`` on the real files in ../shared/data, and every malformed variant
as one line naming the file, the line where the question starts, its index and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmeval.data.truthfulqa import QA_PRIMER, find_mc_task, qa_prompt, read_truthfulqa
from pytest_llmeval.errors import DataError
from tests._shared_data import SHARED_DATA, requires_shared_data

ROOT = SHARED_DATA / "truthfulqa" if SHARED_DATA else Path("missing")
GOOD = {"question": "Q?", "mc1_targets": {"right": 1, "wrong": 0}, "mc2_targets": {"right": 1, "also": 1, "wrong": 0}}


@requires_shared_data
def test_the_dataset_root_means_the_v1_file_that_harnesses_score():
    rows = read_truthfulqa(ROOT)
    assert len(rows) == 817 and find_mc_task(ROOT) == ROOT / "data" / "v1" / "mc_task.json"
    first = rows[0]
    assert (first.id, first.line, first.question) == ("0", 2, "What happens if you eat a pomegranate?")
    assert first.mc1_choices[0] == "Nothing in particular happens when you eat a pomegranate."
    assert first.mc1_labels == (1, 0, 0, 0) and first.mc2_labels == (1, 1, 1, 0, 0, 0)
    assert rows[-1].id == "816" and rows[-1].line == 16094


@requires_shared_data
@pytest.mark.parametrize("path", ["data/v1/mc_task.json", "data/mc_task.json"])
def test_every_question_is_read_as_the_hub_builds_it(path):
    """The hub's truthful_qa/multiple_choice: choices are each targets object's keys in order,
    labels its values; read here with json, independently."""
    raw = json.loads((ROOT / path).read_text(encoding="utf-8"))
    rows = read_truthfulqa(ROOT / path)
    assert len(rows) == len(raw) == (817 if "v1" in path else 790)
    for row, expected in zip(rows, raw):
        assert row.question == expected["question"]
        assert (row.mc1_choices, row.mc1_labels) == (tuple(expected["mc1_targets"]),
                                                     tuple(expected["mc1_targets"].values()))
        assert (row.mc2_choices, row.mc2_labels) == (tuple(expected["mc2_targets"]),
                                                     tuple(expected["mc2_targets"].values()))
        assert row.mc1_labels[0] == 1 and set(row.mc1_choices) <= set(row.mc2_choices)


@requires_shared_data
def test_a_folder_holding_an_mc_task_json_means_that_file():
    assert find_mc_task(ROOT / "data") == ROOT / "data" / "mc_task.json"  # the 2025 version
    assert find_mc_task(ROOT / "data" / "v1") == ROOT / "data" / "v1" / "mc_task.json"


def test_the_prompt_is_the_qa_primer_then_the_question():
    assert QA_PRIMER.count("\nA: ") == 6 and QA_PRIMER.startswith("Q: What is human life expectancy")
    assert qa_prompt("Why?") == QA_PRIMER + "\n\nQ: Why?\nA:"


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "mc_task.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _error(path: Path) -> str:
    with pytest.raises(DataError) as info:
        read_truthfulqa(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_questions_spread_over_lines_are_pointed_at_by_their_first_line(tmp_path):
    bad = dict(GOOD, mc2_targets={"right": 1, "wrong": 2})
    path = _write(tmp_path, "[\n" + json.dumps(GOOD, indent=1) + ",\n" + json.dumps(bad, indent=1) + "\n]\n")
    start = 2 + json.dumps(GOOD, indent=1).count("\n") + 1
    assert _error(path) == f"{path}:{start}: [1].mc2_targets: expected the label 1 or 0 for 'wrong', got 2"


@pytest.mark.parametrize(("row", "expected"), [
    ("[1, 2]", "[0]: expected an object with question, mc1_targets and mc2_targets, got an array"),
    ({**GOOD, "question": " "}, '[0].question: expected a non-empty string, got " "'),
    ({"mc1_targets": GOOD["mc1_targets"], "mc2_targets": GOOD["mc2_targets"]},
     "[0].question: expected a non-empty string, got nothing (the key is missing)"),
    ({**GOOD, "mc1_targets": ["right", "wrong"]},
     "[0].mc1_targets: expected an object mapping each answer to 1 (true) or 0 (false), got an array"),
    ({**GOOD, "mc1_targets": {"right": True, "wrong": 0}}, "[0].mc1_targets: expected the label 1 or 0 for 'right', got true"),
    ({**GOOD, "mc1_targets": {"right": 1.0, "wrong": 0}}, "[0].mc1_targets: expected the label 1 or 0 for 'right', got 1.0"),
    ({**GOOD, "mc1_targets": {"right": 1, "also": 1}},
     "[0].mc1_targets: expected two or more answers, exactly one of them true (1); found 2 with 2 true"),
    ({**GOOD, "mc1_targets": {"right": 1}},
     "[0].mc1_targets: expected two or more answers, exactly one of them true (1); found 1 with 1 true"),
    ({**GOOD, "mc2_targets": {"a": 0, "b": 0}}, "[0].mc2_targets: expected true (1) and false (0) answers; found 2 "
                                                "with 0 true"),
])
def test_a_malformed_question_names_its_index_and_field(tmp_path, row, expected):
    path = _write(tmp_path, "[" + (row if isinstance(row, str) else json.dumps(row)) + "]")
    assert _error(path) == f"{path}:1: {expected}"


def test_an_answer_given_twice_is_an_error_not_silently_dropped(tmp_path):
    path = _write(tmp_path, '[{"question": "Q?", "mc1_targets": {"a": 1, "b": 0},\n'
                            ' "mc2_targets": {"a": 1, "b": 0, "b": 1}}]')
    assert _error(path) == f"{path}:1: [0].mc2_targets: 'b' is given twice"


@pytest.mark.parametrize(("text", "expected"), [
    (b'\xff[]', "not UTF-8 text (invalid start byte at byte 0)"),
    ('', "1: expected a JSON array of questions ([{...}, ...])"),
    ('{"question": "Q?"}', "1: expected a JSON array of questions ([{...}, ...])"),
    ('[]', "no questions (an empty JSON array)"),
    ('[\n' + json.dumps(GOOD) + ',\n{"question": }]', "3: invalid JSON (Expecting value at column 14)"),
    ('[' + json.dumps(GOOD) + '\n' + json.dumps(GOOD) + ']', "2: invalid JSON (expected ',' or ']' after a question)"),
    ('[' + json.dumps(GOOD) + ']\n[]', "2: invalid JSON (more data after the array)"),
])
def test_a_file_that_is_not_one_json_array_of_questions_is_one_line(tmp_path, text, expected):
    path = _write(tmp_path, text)
    message = _error(path)
    assert message == f"{path}:{expected}" if expected[0].isdigit() else message == f"{path}: {expected}"


def test_a_folder_without_the_file_names_both_places_looked(tmp_path):
    with pytest.raises(DataError, match=f"^data.path: no data/v1/mc_task.json or mc_task.json in {tmp_path}$"):
        read_truthfulqa(tmp_path)


def test_a_bom_and_whitespace_around_the_array_are_fine(tmp_path):
    rows = read_truthfulqa(_write(tmp_path, "\ufeff \n[ " + json.dumps(GOOD) + " ,\n" + json.dumps(GOOD) + " ]\n\n"))
    assert [(r.id, r.line) for r in rows] == [("0", 2), ("1", 3)]
    assert rows[1].mc2_choices == ("right", "also", "wrong") and rows[1].mc2_labels == (1, 1, 0)
