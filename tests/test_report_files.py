"""results.json, results.csv and samples.jsonl as a reader sees them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

import pytest_llmeval.report
from pytest_llmeval.report.files import CSV_COLUMNS, SamplesWriter, results_document, write_results_csv, write_results_json
from pytest_llmeval.results.aggregate import Summary, aggregate
from pytest_llmeval.results.payload import SampleResult

ROW_FIELDS = ["model", "suite", "{kind}", "version", "n", "correct", "score", "ci_low", "ci_high", "threshold", "passed"]
EXTRA_FIELDS = ["metric", "mode", "task", "errors", "unparsed", "unparsed_share", "max_unparsed", "unparsed_passed",
                "statistic", "asked", "total", "incomplete", "stopped_early_at"]
GROUP_FIELDS = {"subject": [], "group": ["aggregate", "score_weighted", "score_naive", "members"]}
SAMPLE_FIELDS = {
    "model", "suite", "subject", "id", "version", "prompt", "reply", "extracted", "target", "correct", "error",
    "latency_s", "prompt_tokens", "completion_tokens", "tokens_estimated",
    "rule", "unparsed",  # which extraction rule read the answer, or why none could
    "task", "mode", "rejected", "retries", "cached",  # also kept by SampleResult.sample_record()
    "streamed", "e2e_s", "ttft_s", "tpot_s", "itl_s", "output_tokens", "sent_at",  # serving performance
    # what merging shards needs to rebuild each result exactly
    "v", "nodeid", "groups", "threshold", "group_thresholds", "group_aggregates", "fatal", "metric", "latency_gates",
    "max_unparsed",
    "attempts", "pass_at",  # repeats > 1: every attempt, and the problem's pass@k
    "score", "aggregate",  # the sample's score on the task's metric, and how its subject combines scores
    "judge", "pairwise", "metric_settings",  # task judge's verdict, --llm-judge-pairwise, a text metric's settings
    "robustness", "question", "variant", "variants", "min_consistency",  # a rotation's or perturbation's question
    "logprobs", "unconditional", "picks", "metrics",  # mode: cloze
    "example", "shrunk",  # @llmeval.examples: the drawn arguments, and --llm-shrink's minimal failing example
    "not_asked", "not_asked_complete", "early_stop",  # deliberately not sent (errors.NotAsked); early stopping
}
RUN = {"models": [{"name": "smollm2"}], "options": {}, "started": "2025-01-01T00:00:00+00:00", "duration_s": 1.5}


def result(subject: str, id: str, correct: bool | None = True, error: str | None = None, **kw: Any) -> SampleResult:
    return SampleResult(
        model="smollm2", suite="演示", subject=subject, id=id, version="3f2a9c1d", nodeid=f"x::{id}",
        groups=["理科"], threshold=0.5, group_thresholds={"理科": None},
        prompt="问题：1+1=?\n答案：", reply="B", extracted="B", target="B", correct=correct, error=error,
        latency_s=0.25, prompt_tokens=12, completion_tokens=1, **kw,
    )


def results() -> list[SampleResult]:
    return [result("数学", "0"), result("数学", "1", correct=False), result("物理", "0", correct=None, error="timeout")]


@pytest.fixture
def summary() -> Summary:
    return aggregate(results())


def strict_json(path: Path) -> Any:
    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)


def test_results_json(tmp_path: Path, summary: Summary) -> None:
    path = tmp_path / "results.json"
    write_results_json(path, results_document(RUN, summary, extra={"regressions": []}))
    data = strict_json(path)
    assert list(data) == ["run", "subjects", "groups", "regressions"]
    assert data["run"] == RUN and data["regressions"] == []
    for kind in ("subject", "group"):
        for row in data[f"{kind}s"]:
            assert list(row) == [f.format(kind=kind) for f in ROW_FIELDS] + EXTRA_FIELDS + GROUP_FIELDS[kind]
    physics = data["subjects"][1]
    assert (physics["subject"], physics["n"], physics["errors"], physics["score"], physics["ci_low"]) == ("物理", 0, 1, None, None)
    assert data["groups"][0]["group"] == "理科" and data["groups"][0]["threshold"] is None
    text = path.read_text(encoding="utf-8")
    assert "数学" in text and text.endswith("}\n") and '\n  "subjects": [' in text
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_results_files_do_not_depend_on_arrival_order(tmp_path: Path) -> None:
    for name, ordered in (("a", results()), ("b", results()[::-1])):
        write_results_json(tmp_path / f"{name}.json", results_document(RUN, aggregate(ordered)))
        write_results_csv(tmp_path / f"{name}.csv", aggregate(ordered))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_results_json_refuses_nan_and_keeps_the_old_file(tmp_path: Path, summary: Summary) -> None:
    path = tmp_path / "results.json"
    write_results_json(path, results_document(RUN, summary))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_results_json(path, results_document({**RUN, "duration_s": math.nan}, summary))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_results_json_refuses_extras_that_clash(tmp_path: Path, summary: Summary) -> None:
    with pytest.raises(ValueError, match="subjects"):
        results_document(RUN, summary, extra={"subjects": []})


def test_results_csv_reads_back(tmp_path: Path, summary: Summary) -> None:
    path = tmp_path / "results.csv"
    write_results_csv(path, summary)
    everything = pd.read_csv(path, encoding="utf-8")
    assert list(everything.columns) == CSV_COLUMNS
    assert list(everything["kind"]) == ["subject", "subject", "group", "model"]  # then each model's tokens
    model = everything.iloc[3]
    usage = summary.usage[0]
    assert (model["name"], model["prompt_tokens"], model["completion_tokens"]) == (
        usage.model, usage.prompt_tokens, usage.completion_tokens)
    frame = everything.iloc[:3]
    assert list(frame["name"]) == ["数学", "物理", "理科"]
    assert list(frame["n"]) == [2, 0, 2] and list(frame["errors"]) == [0, 1, 1]
    assert frame.loc[0, "score"] == 0.5 and math.isnan(frame.loc[1, "score"])
    assert list(frame["passed"]) == [True, False, True]
    expected = [row.to_record() for row in summary.rows]
    assert frame.loc[0, "ci_low"] == pytest.approx(expected[0]["ci_low"], abs=1e-15)


def test_samples_writer_flushes_each_line(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text("left over from an earlier run\n", encoding="utf-8")
    writer = SamplesWriter(path)
    assert path.read_text(encoding="utf-8") == "left over from an earlier run\n"  # a run reporting nothing keeps it
    results = [result("数学", "0"), result("物理", "1", correct=None, error="HTTP 500")]
    for count, r in enumerate(results, start=1):
        writer.write(r)
        lines = path.read_text(encoding="utf-8").splitlines()  # before close()
        assert len(lines) == count
        assert json.loads(lines[-1]) == r.sample_record()
    writer.close()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(set(record) == SAMPLE_FIELDS for record in records)
    assert records[1]["error"] == "HTTP 500" and records[1]["correct"] is None
    assert "数学" in path.read_text(encoding="utf-8")


def test_samples_writer_as_context_manager(tmp_path: Path) -> None:
    with SamplesWriter(tmp_path / "samples.jsonl") as writer:
        writer.write(result("数学", "0"))
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        writer.write(result("数学", "1"))
    assert len((tmp_path / "samples.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_exports() -> None:
    names = pytest_llmeval.report.__all__
    assert names == sorted(names)
    assert {"SamplesWriter", "summary_lines", "write_results_csv", "write_results_json"} <= set(names)
    assert all(getattr(pytest_llmeval.report, name) for name in names)


def test_written_files_get_the_usual_permissions(tmp_path: Path, summary: Summary) -> None:
    import os
    import stat

    mask = os.umask(0o022)
    try:
        write_results_json(tmp_path / "results.json", results_document(RUN, summary))
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o644
