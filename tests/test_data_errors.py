"""Every bad input is one line naming the file (and line or field) and what was expected.

No pandas, json or pyarrow traceback may reach the user: loaders raise DataError (bad data) or
ConfigError (bad format name, missing optional package), and nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytest_llmeval.data import FORMATS, DataSpec, load
from pytest_llmeval.errors import ConfigError, DataError


def _message(error: type[ConfigError], spec: DataSpec, *needles: str, split: str | None = None) -> str:
    with pytest.raises(error) as info:
        load(spec, split=split)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


@pytest.mark.parametrize(("content", "needles"), [
    ('{"question": "q"}\n\n{broken\n', [":3: invalid JSON", "column 2"]),
    ('[1, 2]\n', [":1: expected a JSON object, got list"]),
    ('"text"\n', [":1: expected a JSON object, got str"]),
])
def test_bad_jsonl_line_names_file_and_line(tmp_path: Path, content: str, needles: list[str]) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    message = _message(DataError, DataSpec(format="jsonl", path=path), *needles)
    assert message.startswith(f"{path}:")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_missing_mapped_column_names_field_file_and_columns(tmp_path: Path, fmt: str) -> None:
    import pandas as pd

    frame = pd.DataFrame([{"a": "1", "b": "2", "c": "3"}])
    path = tmp_path / f"x.{fmt}"
    if fmt == "jsonl":
        path.write_text(json.dumps({"a": "1", "b": "2", "c": "3"}) + "\n")
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    message = _message(DataError, DataSpec(format=fmt, path=path, fields={"question": "q"}),
                       "fields.question: column 'q' not found in", str(path), "(columns: a, b, c)")
    assert message.startswith("fields.question:")


def test_missing_choice_column_and_non_list_choices(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("q,opa,opb\nx,1,2\n")
    _message(DataError, DataSpec(format="csv", path=path, fields={"choices": ["opa", "opz"]}),
             "fields.choices", "'opz'", "columns: q, opa, opb")
    _message(DataError, DataSpec(format="csv", path=path, fields={"choices": "opa"}),
             "fields.choices", "holds str", "expected a list")


def test_a_list_where_one_column_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"q": "x"}\n')
    _message(DataError, DataSpec(format="jsonl", path=path, fields={"question": ["q", "r"]}, where="s.llmeval.yaml"),
             "s.llmeval.yaml", "fields.question", "expected one column name")


def test_missing_path_names_the_resolved_path(tmp_path: Path) -> None:
    for fmt in FORMATS:
        missing = tmp_path / "nope" / "data.jsonl"
        message = _message(DataError, DataSpec(format=fmt, path=missing, where="suites/x.llmeval.yaml"),
                           "does not exist", str(missing), "data.path")
        assert message.startswith("suites/x.llmeval.yaml: data.path:")


def test_unknown_format_lists_formats(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(DataSpec(format="xml", path=tmp_path, where="suites/x.llmeval.yaml"))
    assert not isinstance(info.value, DataError)
    message = str(info.value)
    assert message == ("suites/x.llmeval.yaml: data.format: unknown format 'xml' "
                       f"(expected one of: {', '.join(FORMATS)})")


def test_no_files_for_the_split(tmp_path: Path) -> None:
    (tmp_path / "a_test.jsonl").write_text('{"q": 1}\n')
    _message(DataError, DataSpec(format="jsonl", path=tmp_path), split="dev", *["data.split", "'dev'", str(tmp_path)])
    _message(DataError, DataSpec(format="mmlu", path=tmp_path), "data.split", "'test'", "*_")
    _message(DataError, DataSpec(format="gsm8k", path=tmp_path), "data.split", "test.jsonl")
    _message(DataError, DataSpec(format="csv", path=tmp_path), "data.path", "no *.csv files")


def test_standard_layout_with_the_wrong_columns(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "algebra_test.csv").write_text("q,a,b,c,d\n")
    _message(DataError, DataSpec(format="mmlu", path=tmp_path), "algebra_test.csv", "expected 6 columns", "found 5")
    _message(DataError, DataSpec(format="ceval", path=tmp_path, split="test"), "algebra_test.csv",
             "missing column 'id'", "found q, a, b, c, d")
    (tmp_path / "test" / "algebra.csv").write_text(",Question,A,B,C,D\n0,q,1,2,3,4\n")
    _message(DataError, DataSpec(format="cmmlu", path=tmp_path / "test" / "algebra.csv"), "algebra.csv",
             "missing column 'Answer'")


def test_unparseable_empty_and_non_utf8_csv(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged_test.csv"
    ragged.write_text("q,1,2,3,4,A\nq,1,2,3,4,A,extra\n")
    _message(DataError, DataSpec(format="mmlu", path=ragged), str(ragged), "cannot read CSV", "line 2")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _message(DataError, DataSpec(format="csv", path=empty), str(empty), "the file is empty")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("question\ncaf\xe9\n".encode("latin-1"))
    _message(DataError, DataSpec(format="csv", path=latin), str(latin), "not UTF-8")
    latin_jsonl = tmp_path / "latin.jsonl"
    latin_jsonl.write_bytes(b'{"q": "ok"}\n{"q": "caf\xe9"}\n')
    _message(DataError, DataSpec(format="jsonl", path=latin_jsonl), f"{latin_jsonl}:2", "not UTF-8")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"not parquet at all")
    _message(DataError, DataSpec(format="parquet", path=path), str(path), "cannot read parquet")


@pytest.mark.parametrize(("row", "needle"), [
    ({"question": "q", "answer": "no final line"}, "no final '#### <number>' line"),
    ({"question": "q", "answer": "ends with ####  "}, "no final '#### <number>' line"),
    ({"question": "q"}, "expected string keys 'question' and 'answer'"),
    ({"question": 3, "answer": "#### 3"}, "expected string keys"),
])
def test_gsm8k_bad_rows_name_file_and_line(tmp_path: Path, row: dict[str, object], needle: str) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"question": "ok", "answer": "#### 1"}) + "\n\n" + json.dumps(row) + "\n")
    _message(DataError, DataSpec(format="gsm8k", path=tmp_path), f"{path}:3:", needle)


def test_hf_without_datasets_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    message = _message(ConfigError, DataSpec(format="hf", path=tmp_path, where="s.llmeval.yaml"))
    assert message == ("s.llmeval.yaml: data.format hf needs the 'datasets' package: "
                       "pip install pytest-llmeval[hf-data]")


def test_hf_bad_inputs(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    single = tmp_path / "d.jsonl"
    single.write_text('{"q": 1}\n')
    _message(DataError, DataSpec(format="hf", path=single), str(single), "expected a dataset folder")
    ds = datasets.Dataset.from_list([{"q": "x"}])
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dict"))
    spec = DataSpec(format="hf", path=tmp_path / "dict")
    _message(DataError, spec, "data.split", "splits: train, test")
    _message(DataError, spec, "no split 'dev'", "splits: train, test", split="dev")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "state.json").write_text("{not json")
    _message(DataError, DataSpec(format="hf", path=tmp_path / "broken"), "cannot load the dataset")
