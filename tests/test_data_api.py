"""The data package's public surface, the gsm8k final-answer rule and text fidelity as properties,
and the shared-data locator that the real-data tests depend on."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_llmeval.data as data
from pytest_llmeval.data import FORMATS, DataSpec, gsm8k_target, load

REPO = Path(__file__).resolve().parents[1]


def test_public_names_are_sorted_and_exported() -> None:
    assert data.__all__ == sorted(data.__all__) == ["DataSpec", "FORMATS", "gsm8k_target", "load"]
    assert all(hasattr(data, name) for name in data.__all__)
    assert FORMATS == ("jsonl", "csv", "parquet", "mmlu", "cmmlu", "ceval", "gsm8k", "hf", "json", "humaneval",
                       "truthfulqa")


def test_dataspec_is_a_frozen_value_with_defaults(tmp_path: Path) -> None:
    spec = DataSpec(format="jsonl", path=tmp_path)
    assert (spec.split, spec.fields, spec.subject, spec.where) == (None, {}, None, "")
    assert DataSpec(format="jsonl", path=tmp_path).fields is not spec.fields
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.split = "test"  # type: ignore[misc]
    assert not hasattr(spec, "__dict__")


def test_importing_the_package_does_not_import_pandas() -> None:
    code = "import sys, pytest_llmeval.data; print('pandas' in sys.modules, 'datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


_SOLUTION_LINE = st.one_of(
    st.text(alphabet="abc xyz<>=+-*/$.,0123456789", max_size=30),
    st.builds(lambda s: f"#### {s}", st.text(alphabet="0123456789,- ", max_size=10)),
)


@given(value=st.integers(-10**12, 10**12), commas=st.booleans(), lines=st.lists(_SOLUTION_LINE, max_size=6),
       pad=st.sampled_from(["", " ", "  ", "\n", " \n"]))
def test_gsm8k_target_is_the_last_final_answer_without_commas(value: int, commas: bool, lines: list[str],
                                                             pad: str) -> None:
    shown = f"{value:,}" if commas else str(value)
    answer = "\n".join([*lines, f"#### {shown}{pad}"])
    assert gsm8k_target(answer) == str(value)


@given(st.text(alphabet="abc 0123456789,\n<>=", max_size=60))
def test_gsm8k_target_is_none_without_a_marker(text: str) -> None:
    assert gsm8k_target(text) is None


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


_CELL = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_CELL, _CELL, st.sampled_from(["", "None", "NA", "nan", "null", "N/A", "#N/A"])),
                     min_size=1, max_size=5),
       terminator=st.sampled_from(["\n", "\r\n"]), final_newline=st.booleans())
def test_csv_cells_come_back_exactly(tmp_path: Path, rows: list[tuple[str, str, str]], terminator: str,
                                     final_newline: bool) -> None:
    """Any RFC 4180 CSV (quotes, bare CR, LF, NA-like strings, spaces) is read back unchanged.

    Written by hand: csv.writer leaves a bare "\r" unquoted under a "\n" terminator, which makes
    the file itself ambiguous.
    """
    lines = [["id", "question", "answer", "extra"], *([f"r{i}", *row] for i, row in enumerate(rows))]
    text = terminator.join(",".join(map(_quoted, line)) for line in lines) + (terminator if final_newline else "")
    path = tmp_path / "cells.csv"
    path.write_bytes(text.encode("utf-8"))
    samples = load(DataSpec(format="csv", path=path))["cells"]
    got = [(s.fields["question"], s.fields["answer"], s.fields["extra"]) for s in samples]
    assert got == rows
    assert [s.id for s in samples] == [f"r{i}" for i in range(len(rows))]


def _shared_data_probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = ("from tests._shared_data import SHARED_DATA, requires_shared_data as m; "
            "print(SHARED_DATA, m.args[0], m.kwargs['reason'])")
    clean = {k: v for k, v in os.environ.items() if k not in {"CI", "LLMEVAL_SHARED_DATA"}}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**clean, **env}, capture_output=True, text=True)


def test_shared_data_locator_skips_when_missing_and_fails_under_ci(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent")
    local = _shared_data_probe({"LLMEVAL_SHARED_DATA": missing})
    assert local.returncode == 0, local.stderr
    assert local.stdout.startswith("None True ../shared/data not found; set LLMEVAL_SHARED_DATA")
    ci = _shared_data_probe({"LLMEVAL_SHARED_DATA": missing, "CI": "true"})
    assert ci.returncode != 0 and "CI=true" in ci.stderr and missing in ci.stderr
    found = _shared_data_probe({"LLMEVAL_SHARED_DATA": str(tmp_path), "CI": "true"})
    assert found.returncode == 0 and found.stdout.startswith(f"{tmp_path} False")
