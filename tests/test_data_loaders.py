"""Loaders on the real benchmark files in ../shared/data, and the generic formats on files we write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.data import DataSpec, gsm8k_target, load
from pytest_llmeval.errors import ConfigError, DataError
from tests._shared_data import SHARED_DATA, requires_shared_data

TOTALS = [
    ("mmlu", "dev", 57, 285), ("mmlu", "val", 57, 1531), ("mmlu", "test", 57, 14042),
    ("cmmlu", "dev", 67, 335), ("cmmlu", "test", 67, 11582),
    ("ceval", "dev", 52, 260), ("ceval", "val", 52, 1346), ("ceval", "test", 52, 12342),
    ("gsm8k", "test", 1, 1319), ("gsm8k", "train", 1, 7473), ("gsm8k", "test_socratic", 1, 1319),
]
# Per-subject counts from SOURCES.md, a sample of each layout (dev/val/test).
PER_SUBJECT = [
    ("mmlu", "test", "professional_law", 1534), ("mmlu", "val", "moral_scenarios", 100), ("mmlu", "test", "abstract_algebra", 100),
    ("cmmlu", "test", "jurisprudence", 411), ("cmmlu", "test", "agronomy", 169), ("cmmlu", "dev", "arts", 5),
    ("ceval", "val", "accountant", 49), ("ceval", "test", "legal_professional", 215), ("ceval", "test", "middle_school_geography", 108),
]


def _load(fmt: str, split: str) -> dict:
    assert SHARED_DATA is not None
    return load(DataSpec(format=fmt, path=SHARED_DATA / fmt, split=split))


@requires_shared_data
@pytest.mark.parametrize(("fmt", "split", "subjects", "rows"), TOTALS)
def test_every_file_loads_with_the_published_row_counts(fmt, split, subjects, rows):
    loaded = _load(fmt, split)
    assert len(loaded) == subjects
    assert sum(len(v) for v in loaded.values()) == rows


@requires_shared_data
@pytest.mark.parametrize(("fmt", "split", "subject", "rows"), PER_SUBJECT)
def test_subject_row_counts(fmt, split, subject, rows):
    assert len(_load(fmt, split)[subject]) == rows


@requires_shared_data
def test_mmlu_keeps_literal_none_options_and_multiline_fields():
    loaded = _load("mmlu", "test")
    nones = sum(c == "None" for samples in loaded.values() for s in samples for c in s.choices)
    assert nones >= 8  # 12 across splits; pandas would have made them NaN
    assert all(len(s.choices) == 4 and s.target in "ABCD" for samples in loaded.values() for s in samples)
    assert any("\n" in s.fields["question"] for samples in loaded.values() for s in samples)
    assert loaded["abstract_algebra"][0].id == "0"


@requires_shared_data
def test_cmmlu_ids_come_from_the_index_column():
    agronomy = _load("cmmlu", "test")["agronomy"]
    assert [s.id for s in agronomy] == [str(i) for i in range(169)]
    assert agronomy[0].fields["question"] and agronomy[0].target in "ABCD"


@requires_shared_data
def test_ceval_test_split_has_no_answers_and_keeps_bare_cr():
    test = _load("ceval", "test")
    assert all(s.target is None for samples in test.values() for s in samples)
    legal = test["legal_professional"]
    assert any("\r" in s.fields["question"] + "".join(s.choices) for s in legal)
    dev = _load("ceval", "dev")["accountant"]
    assert dev[0].fields["explanation"] and dev[0].target in "ABCD"


@requires_shared_data
def test_gsm8k_targets_drop_thousands_commas_and_keep_signs():
    targets = [s.target for s in _load("gsm8k", "test")["gsm8k"]]
    assert "2125" in targets and all("," not in t for t in targets)
    assert any(t.startswith("-") for t in targets)
    assert targets[0] == "18"


@requires_shared_data
def test_truthfulqa_csv_with_bom_through_fields_mapping():
    assert SHARED_DATA is not None
    spec = DataSpec(format="csv", path=SHARED_DATA / "truthfulqa" / "data" / "v1" / "TruthfulQA.csv",
                    fields={"question": "Question", "target": "Best Answer", "subject": "Category"})
    loaded = load(spec)
    rows = [s for samples in loaded.values() for s in samples]
    assert len(rows) == 817 and "Type" in rows[0].fields
    assert len(loaded) == 38


def test_jsonl_csv_parquet_with_field_mapping(tmp_path: Path):
    rows = [{"qid": f"r{i}", "q": f"question {i}", "opts": ["x", "y"], "gold": "B", "cat": "c1" if i < 2 else "c2"} for i in range(3)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fields = {"id": "qid", "question": "q", "choices": "opts", "target": "gold", "subject": "cat"}
    loaded = load(DataSpec(format="jsonl", path=tmp_path / "d.jsonl", fields=fields))
    assert {k: [s.id for s in v] for k, v in loaded.items()} == {"c1": ["r0", "r1"], "c2": ["r2"]}
    assert loaded["c1"][0].choices == ("x", "y") and loaded["c1"][0].fields["B"] == "y"
    import pandas as pd

    frame = pd.DataFrame([{"q": "hi", "a1": "one", "a2": "None", "gold": "A"}])
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    for fmt in ("csv", "parquet"):
        got = load(DataSpec(format=fmt, path=tmp_path / f"d.{fmt}", fields={"question": "q", "choices": ["a1", "a2"], "target": "gold"}))
        assert got == {"d": [got["d"][0]]} and got["d"][0].choices == ("one", "None") and got["d"][0].id == "0"


def test_folder_of_split_files_gives_one_subject_per_file(tmp_path: Path):
    for subject in ("alpha", "beta"):
        (tmp_path / f"{subject}_test.jsonl").write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    assert sorted(load(DataSpec(format="jsonl", path=tmp_path, split="test"))) == ["alpha", "beta"]


@pytest.mark.parametrize(("content", "fields", "needles"), [
    ('{"question": "q"}\n{broken\n', {}, ["d.jsonl:2", "invalid JSON"]),
    ('[1, 2]\n', {}, ["d.jsonl:1", "JSON object"]),
    ('{"question": "q"}\n', {"question": "text"}, ["fields.question", "'text'", "columns: question"]),
])
def test_bad_data_is_one_line_naming_file_and_field(tmp_path: Path, content, fields, needles):
    (tmp_path / "d.jsonl").write_text(content)
    with pytest.raises(DataError) as info:
        load(DataSpec(format="jsonl", path=tmp_path / "d.jsonl", fields=fields))
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in needles), message


def test_missing_path_and_unknown_format(tmp_path: Path):
    with pytest.raises(DataError, match="does not exist"):
        load(DataSpec(format="jsonl", path=tmp_path / "nope.jsonl"))
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        load(DataSpec(format="xml", path=tmp_path))


@given(st.integers(-10**9, 10**9), st.booleans(), st.text(alphabet="abc <>=+*\n0123456789", max_size=40))
def test_gsm8k_final_answer_parsing(value, commas, solution):
    shown = f"{value:,}" if commas else str(value)
    assert gsm8k_target(f"{solution}\n#### {shown}") == str(value)
