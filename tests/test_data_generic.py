"""Generic formats (jsonl, csv, parquet, json, hf) through the ``fields:`` mapping, on files written here,
plus the real TruthfulQA v1 CSV (BOM, multi-answer cells) from ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.data import DataSpec, load
from pytest_llmeval.samples import Sample
from tests._shared_data import SHARED_DATA, requires_shared_data

ROWS: list[dict[str, Any]] = [
    {"qid": "r0", "q": "2+2?", "opa": "3", "opb": "4", "opc": "None", "opd": "", "gold": "B", "cat": "math"},
    {"qid": "r1", "q": "Capital?", "opa": "Paris", "opb": "Rome", "opc": "Oslo", "opd": "Bern", "gold": "A", "cat": "geo"},
    {"qid": "r2", "q": "line one\nline two", "opa": "x", "opb": "y", "opc": "z", "opd": "w", "gold": "D", "cat": "math"},
]
MAPPING = {"id": "qid", "question": "q", "choices": ["opa", "opb", "opc", "opd"], "target": "gold", "subject": "cat"}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _write(fmt: str, path: Path, rows: list[dict[str, Any]]) -> Path:
    import pandas as pd

    if fmt == "jsonl":
        return _write_jsonl(path, rows)
    if fmt == "json":
        path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        return path
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


def _ids(loaded: dict[str, list[Sample]]) -> dict[str, list[str]]:
    return {subject: [s.id for s in samples] for subject, samples in loaded.items()}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json"])
def test_fields_mapping_gives_the_same_samples_in_every_format(tmp_path: Path, fmt: str) -> None:
    path = _write(fmt, tmp_path / f"quiz.{fmt}", ROWS)
    loaded = load(DataSpec(format=fmt, path=path, fields=MAPPING))
    assert _ids(loaded) == {"math": ["r0", "r2"], "geo": ["r1"]}
    first = loaded["math"][0]
    assert first.choices == ("3", "4", "None", "") and first.target == "B" and first.subject == "math"
    assert first.fields["question"] == "2+2?" and first.fields["q"] == "2+2?"
    assert [first.fields[k] for k in "ABCD"] == ["3", "4", "None", ""] and first.fields["target"] == "B"
    assert first.fields["opa"] == "3" and first.fields["cat"] == "math"  # raw columns stay variables
    assert loaded["math"][1].fields["question"] == "line one\nline two"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json"])
def test_unmapped_defaults_answer_letters_and_row_index_ids(tmp_path: Path, fmt: str) -> None:
    rows = [{"question": f"q{i}", "A": "yes", "B": "no", "answer": "A"} for i in range(3)]
    loaded = load(DataSpec(format=fmt, path=_write(fmt, tmp_path / f"yes_no.{fmt}", rows)))
    assert _ids(loaded) == {"yes_no": ["0", "1", "2"]}
    sample = loaded["yes_no"][2]
    assert sample.choices == ("yes", "no") and sample.target == "A" and sample.fields["question"] == "q2"


def test_list_column_choices_ints_and_spec_subject(tmp_path: Path) -> None:
    rows = [{"question": "pick", "choices": ["a", "b", "c"], "target": 2, "id": 7}, {"question": "no id", "target": 5}]
    loaded = load(DataSpec(format="jsonl", path=_write_jsonl(tmp_path / "d.jsonl", rows), subject="fixed"))
    first, second = loaded["fixed"]
    assert first.choices == ("a", "b", "c") and first.target == "2" and first.id == "7"
    assert second.choices == () and second.id == "1" and second.target == "5"


def test_choices_from_one_list_column_and_extra_alias(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame([{"text": "q", "opts": ["x", "y"], "gold": "B", "ctx": "passage"}]).to_parquet(tmp_path / "d.parquet")
    fields = {"question": "text", "choices": "opts", "target": "gold", "context": "ctx"}
    [sample] = load(DataSpec(format="parquet", path=tmp_path / "d.parquet", fields=fields))["d"]
    assert sample.choices == ("x", "y") and sample.fields["B"] == "y" and sample.fields["context"] == "passage"
    assert sample.fields["opts"] == ["x", "y"]  # plain lists, as JSON Lines gives them


def test_parquet_nulls_stay_none_and_int_ids_stay_int(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": [7, None], "question": ["q", None], "answer": ["A", None], "opts": [["a", "b"], None]})
    pq.write_table(table, tmp_path / "n.parquet")
    first, second = load(DataSpec(format="parquet", path=tmp_path / "n.parquet"))["n"]
    assert (first.id, first.target) == ("7", "A")
    assert (second.id, second.target, second.fields["question"], second.choices) == ("1", None, None, ())


def test_csv_keeps_text_exactly(tmp_path: Path) -> None:
    raw = '\ufeffid,question,answer\r\n001,"multi\nline, with ""quotes""",NA\r\n002,"bare\rcr",None'
    (tmp_path / "t.csv").write_bytes(raw.encode("utf-8"))
    samples = load(DataSpec(format="csv", path=tmp_path / "t.csv"))["t"]
    assert [s.id for s in samples] == ["001", "002"]  # leading zeros kept: no numeric parsing
    assert samples[0].fields["question"] == 'multi\nline, with "quotes"' and samples[0].target == "NA"
    assert samples[1].fields["question"] == "bare\rcr" and samples[1].target == "None"


def test_jsonl_blank_lines_and_row_index_per_file(tmp_path: Path) -> None:
    (tmp_path / "a_test.jsonl").write_text('\n{"question": "a0"}\n\n{"question": "a1"}\n')
    _write_jsonl(tmp_path / "b_test.jsonl", [{"question": "b0"}])
    loaded = load(DataSpec(format="jsonl", path=tmp_path, split="test"))
    assert _ids(loaded) == {"a": ["0", "1"], "b": ["0"]}
    assert loaded["a"][0].target is None and loaded["a"][0].fields["target"] is None


def test_folder_rules_for_a_split(tmp_path: Path) -> None:
    sub = tmp_path / "by_folder"
    _write_jsonl(sub / "test" / "alpha.jsonl", [{"question": "q"}])
    _write_jsonl(sub / "test" / "beta_test.jsonl", [{"question": "q"}])
    _write_jsonl(sub / "dev" / "alpha.jsonl", [{"question": "q"}])
    assert sorted(load(DataSpec(format="jsonl", path=sub, split="test"))) == ["alpha", "beta"]
    suffixed = tmp_path / "suffixed"
    for name in ("alpha_test", "beta_test", "alpha_dev"):
        _write_jsonl(suffixed / f"{name}.jsonl", [{"question": name}])
    assert _ids(load(DataSpec(format="jsonl", path=suffixed, split="dev"))) == {"alpha": ["0"]}
    assert sorted(load(DataSpec(format="jsonl", path=suffixed))) == ["alpha_dev", "alpha_test", "beta_test"]
    named = tmp_path / "world_facts"  # test.jsonl beside dev.jsonl: the folder names the subject
    _write_jsonl(named / "test.jsonl", [{"question": "t"}])
    _write_jsonl(named / "dev.jsonl", [{"question": "d"}])
    spec = DataSpec(format="jsonl", path=named, split="test")
    assert list(load(spec)) == list(load(spec, split="dev")) == ["world_facts"]
    assert load(spec, split="dev")["world_facts"][0].fields["question"] == "d"


def test_example_suites_data_loads() -> None:
    root = Path(__file__).resolve().parents[1] / "example_suites" / "data"
    fields = {"id": "qid", "subject": "category", "question": "question", "choices": "options", "target": "answer"}
    loaded = load(DataSpec(format="jsonl", path=root / "world_facts", split="test", fields=fields))
    assert loaded and all(s.choices and s.target for samples in loaded.values() for s in samples)
    assert load(DataSpec(format="csv", path=root / "chinese_general.csv"))


@requires_shared_data
def test_truthfulqa_v1_csv_with_bom() -> None:
    assert SHARED_DATA is not None
    path = SHARED_DATA / "truthfulqa" / "data" / "v1" / "TruthfulQA.csv"
    fields = {"question": "Question", "target": "Best Answer", "subject": "Category"}
    loaded = load(DataSpec(format="csv", path=path, fields=fields))
    samples = [s for group in loaded.values() for s in group]
    assert len(samples) == 817 and len(loaded) == 38
    first = samples[0]
    assert next(iter(first.fields)) == "Type" and first.fields["Type"] in {"Adversarial", "Non-Adversarial"}
    assert first.id == "0" and first.subject == "Misconceptions" and first.choices == ()
    assert first.fields["question"] == first.fields["Question"] and first.target == first.fields["Best Answer"]
    assert "; " in first.fields["Correct Answers"]
    assert sorted(int(s.id) for s in samples) == list(range(817))


@requires_shared_data
def test_truthfulqa_2025_csv_without_final_newline() -> None:
    assert SHARED_DATA is not None
    loaded = load(DataSpec(format="csv", path=SHARED_DATA / "truthfulqa" / "TruthfulQA.csv",
                           fields={"subject": "Category", "target": "Best Answer"}))
    assert sum(map(len, loaded.values())) == 790 and len(loaded) == 37


@requires_shared_data
def test_gzipped_jsonl_humaneval() -> None:
    assert SHARED_DATA is not None
    loaded = load(DataSpec(format="jsonl", path=SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz",
                           fields={"id": "task_id", "question": "prompt", "target": "canonical_solution"}))
    samples = loaded["HumanEval"]
    assert len(samples) == 164 and samples[0].id == "HumanEval/0" and "def " in samples[0].fields["question"]


def test_hf_saved_dataset_and_dataset_dict(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [{"q": "a?", "opts": ["x", "y"], "gold": "A", "cat": "s1"},
            {"q": "b?", "opts": ["x", "z"], "gold": "B", "cat": "s2"}]
    dataset = datasets.Dataset.from_list(rows)
    dataset.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"test": dataset, "dev": dataset.select([0])}).save_to_disk(str(tmp_path / "dict"))
    fields = {"question": "q", "choices": "opts", "target": "gold", "subject": "cat"}
    loaded = load(DataSpec(format="hf", path=tmp_path / "saved", fields=fields))
    assert _ids(loaded) == {"s1": ["0"], "s2": ["1"]} and loaded["s2"][0].choices == ("x", "z")
    spec = DataSpec(format="hf", path=tmp_path / "dict", split="test", fields=fields)
    assert _ids(load(spec)) == {"s1": ["0"], "s2": ["1"]} and _ids(load(spec, split="dev")) == {"s1": ["0"]}


def test_hf_local_dataset_folder(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    repo = tmp_path / "repo"
    _write_jsonl(repo / "test.jsonl", [{"question": "t", "answer": "1"}])
    _write_jsonl(repo / "train.jsonl", [{"question": "u", "answer": "2"}, {"question": "v", "answer": "3"}])
    loaded = load(DataSpec(format="hf", path=repo, split="train"))
    assert [s.target for s in loaded["repo"]] == ["2", "3"]
