"""Terminal summary lines: exact tables for small cases, alignment checks for the rest."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest

from pytest_llmeval.report.terminal import summary_lines
from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.verdict import failures

BOLD, RED, YELLOW, FAIL_LINE = {"bold": True}, {"red": True}, {"yellow": True}, {"red": True, "bold": True}


def scored(model: str, subject: str, right: int, wrong: int, **kw: Any) -> list[SampleResult]:
    kw.setdefault("threshold", 0.5)
    kw.setdefault("groups", ["stem"])
    kw.setdefault("group_thresholds", {"stem": 0.6})
    return [
        SampleResult(model=model, suite="quiz", subject=subject, id=str(i), version="3f2a9c1d", nodeid="n",
                     correct=i < right, **kw)
        for i in range(right + wrong)
    ]


def errored(model: str, subject: str, count: int, **kw: Any) -> list[SampleResult]:
    return [
        SampleResult(model=model, suite="quiz", subject=subject, id=f"e{i}", version="3f2a9c1d", nodeid="n",
                     threshold=0.5, error="timed out", **kw)
        for i in range(count)
    ]


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_starts(line: str) -> list[int]:
    """Display positions where a cell starts: after two or more spaces (cells contain single spaces)."""
    return [width(line[: m.end()]) for m in re.finditer(r" {2,}(?=\S)", line)]


def right_edges(line: str) -> list[int]:
    return [width(line[: m.start()]) for m in re.finditer(r"(?<=\S) {2,}", line)]


def test_one_model() -> None:
    results = scored("smollm2", "geo", 3, 0) + scored("smollm2", "sci", 2, 1) + scored("smollm2", "art", 1, 3, groups=[])
    assert summary_lines(aggregate(results)) == [
        ("suite/subject      version   metric    mode  threshold  n  score  95% CI          verdict", BOLD),
        ("quiz/art           3f2a9c1d  accuracy  gen       0.500  4  0.250  [0.046, 0.699]  FAIL", RED),
        ("quiz/geo           3f2a9c1d  accuracy  gen       0.500  3  1.000  [0.439, 1.000]  PASS", {}),
        ("quiz/sci           3f2a9c1d  accuracy  gen       0.500  3  0.667  [0.208, 0.939]  PASS", {}),
        ("quiz/stem [group]  18a2079f  accuracy  gen       0.600  6  0.833  [0.436, 0.970]  PASS", {}),
        ("threshold not met: smollm2 quiz/art 0.250 < 0.500 (n=4)", FAIL_LINE),
    ]


def test_two_models_side_by_side() -> None:
    results = scored("smollm2", "geo", 3, 0) + scored("smollm2", "sci", 1, 2)
    results += scored("qwen2.5-0.5b", "geo", 2, 1) + scored("qwen2.5-0.5b", "sci", 3, 0)
    lines = summary_lines(aggregate(results, models=["smollm2", "qwen2.5-0.5b"]))
    assert lines == [
        (" " * 56 + "|  smollm2" + " " * 28 + "|  qwen2.5-0.5b", BOLD),
        ("suite/subject      version   metric    mode  threshold  |  n  score  95% CI          verdict  |  n  score  95% CI          verdict", BOLD),
        ("quiz/geo           3f2a9c1d  accuracy  gen       0.500  |  3  1.000  [0.439, 1.000]  PASS     |  3  0.667  [0.208, 0.939]  PASS", {}),
        ("quiz/sci           3f2a9c1d  accuracy  gen       0.500  |  3  0.333  [0.061, 0.792]  FAIL     |  3  1.000  [0.439, 1.000]  PASS", RED),
        ("quiz/stem [group]  18a2079f  accuracy  gen       0.600  |  6  0.667  [0.300, 0.903]  PASS     |  6  0.833  [0.436, 0.970]  PASS", {}),
        ("threshold not met: smollm2 quiz/sci 0.333 < 0.500 (n=3)", FAIL_LINE),
    ]


def test_cjk_names_align() -> None:
    results = scored("甲模型", "大学数学", 3, 1) + scored("b", "anatomy", 1, 1) + scored("b", "高中化学（上）", 30, 3)
    span, *table = [text for text, _ in summary_lines(aggregate(results)) if not text.startswith("threshold")]
    assert len(table) == 5
    header, *rows = table
    assert [text.split("  ")[0] for text in rows] == ["quiz/anatomy", "quiz/大学数学", "quiz/高中化学（上）", "quiz/stem [group]"]
    for row in rows:
        assert column_starts(row)[:3] == column_starts(header)[:3]  # version, metric, mode
        assert right_edges(row)[4] == right_edges(header)[4]  # threshold, right-aligned
    assert len({width(text[: text.index("|")]) for text in [span, *table]}) == 1
    assert len({width(text[: text.rindex("|")]) for text in [span, *table]}) == 1
    assert span.endswith("|  甲模型")


def test_long_model_name_widens_its_block() -> None:
    name = "a-really-long-checkpoint-name-that-is-wider-than-its-columns"
    results = scored(name, "geo", 1, 0) + scored("b", "geo", 1, 0)
    span, header, *rows = [text for text, _ in summary_lines(aggregate(results, models=[name, "b"]))]
    assert span.index("|  b") == header.rindex("|") == rows[0].rindex("|")


def test_subject_with_only_errors() -> None:
    results = scored("m", "geo", 2, 0, groups=[]) + errored("m", "sci", 2)
    lines = summary_lines(aggregate(results))
    assert lines[:3] == [
        ("suite/subject  version   metric    mode  threshold  n  errors  score  95% CI          verdict", BOLD),
        ("quiz/geo       3f2a9c1d  accuracy  gen       0.500  2       0  1.000  [0.342, 1.000]  PASS", {}),
        ("quiz/sci       3f2a9c1d  accuracy  gen       0.500  0       2      —  —               FAIL", RED),
    ]
    assert lines[3:] == [(text, FAIL_LINE) for text in failures(aggregate(results))]
    assert len(lines) == 5


def test_errors_without_failing_rows_are_yellow_and_ungated_rows_have_no_verdict() -> None:
    results = scored("m", "geo", 2, 0, groups=[], threshold=None) + errored("m", "sci", 1, groups=["g"])
    lines = summary_lines(aggregate(results))
    assert lines[1] == ("quiz/geo        3f2a9c1d  accuracy  gen           —  2       0  1.000  [0.342, 1.000]  —", {})
    assert lines[2][1] == RED
    assert lines[3] == ("quiz/g [group]  ed1fbd70  accuracy  gen           —  0       1      —  —               —", YELLOW)


def test_missing_row_for_one_model() -> None:
    results = scored("a", "geo", 1, 0, groups=[]) + scored("b", "sci", 1, 0, groups=[])
    _, _, geo, sci = [text for text, _ in summary_lines(aggregate(results))]
    assert geo.split("|")[2].split() == ["—", "—", "—", "—"]
    assert sci.split("|")[1].split() == ["—", "—", "—", "—"]


def test_groups_follow_their_own_suite() -> None:
    results = scored("m", "geo", 1, 0) + [
        SampleResult(model="m", suite="alpha", subject="z", id="0", version="v", nodeid="n", correct=True, groups=["g"]),
    ]
    names = [text.split()[0] for text, _ in summary_lines(aggregate(results))[1:]]
    assert names == ["alpha/z", "alpha/g", "quiz/geo", "quiz/stem"]


def test_no_results() -> None:
    assert summary_lines(aggregate([])) == [("no llmeval results", {})]


@pytest.mark.parametrize("models", [["smollm2"], ["smollm2", "qwen"]])
def test_every_line_is_a_string_with_markup(models: list[str]) -> None:
    results = [r for m in models for r in scored(m, "geo", 1, 1)]
    for text, markup in summary_lines(aggregate(results)):
        assert isinstance(text, str) and "\n" not in text and text == text.rstrip()
        assert all(isinstance(k, str) and v is True for k, v in markup.items())


def read(model: str, subject: str, right: int, wrong: int, unparsed: int, **kw: Any) -> list[SampleResult]:
    """Replies read by an extraction rule: right, wrong, and with no readable answer."""
    results = scored(model, subject, right, wrong + unparsed, groups=[], **kw)
    for i, result in enumerate(results):
        result.rule, result.unparsed = ("echoed options", True) if i >= right + wrong else ("answer phrase", False)
    return results


def test_the_unparsed_share_is_a_column_once_answers_were_read() -> None:
    results = read("m", "geo", 3, 0, 1) + read("m", "sci", 2, 2, 0)
    assert summary_lines(aggregate(results)) == [
        ("suite/subject  version   metric    mode  threshold  n  score  95% CI          unparsed  verdict", BOLD),
        ("quiz/geo       3f2a9c1d  accuracy  gen       0.500  4  0.750  [0.301, 0.954]     0.250  PASS", {}),
        ("quiz/sci       3f2a9c1d  accuracy  gen       0.500  4  0.500  [0.150, 0.850]     0.000  PASS", {}),
    ]


def test_an_unparsed_limit_shows_and_fails_its_row_like_a_threshold() -> None:
    results = read("m", "geo", 3, 0, 1, threshold=None, max_unparsed=0.2) + read("m", "sci", 4, 0, 0, threshold=None)
    summary = aggregate(results, max_unparsed=0.3)
    assert summary_lines(summary) == [
        ("suite/subject  version   metric    mode  threshold  max unparsed  n  score  95% CI          unparsed  verdict", BOLD),
        ("quiz/geo       3f2a9c1d  accuracy  gen           —         0.200  4  0.750  [0.301, 0.954]     0.250  FAIL", RED),
        ("quiz/sci       3f2a9c1d  accuracy  gen           —         0.300  4  1.000  [0.510, 1.000]     0.000  PASS", {}),
        ("unparsed share over its limit: m quiz/geo 0.250 > 0.200 (1 of 4 replies had no readable answer)", FAIL_LINE),
    ]


def test_a_cloze_row_shows_its_other_metrics_beside_the_score() -> None:
    samples = [SampleResult(model="m", suite="s", subject="geo", id=str(i), version="v", nodeid=f"n{i}", mode="cloze",
                            metric="acc_norm", correct=bool(i), metrics={"acc": 0.0, "acc_norm": float(i)})
               for i in (0, 1)]
    lines = [text for text, _ in summary_lines(aggregate(samples))]
    assert lines[0].split()[-2:] == ["other", "metrics"]
    assert lines[1].endswith("  acc 0.000") and " 0.500 " in lines[1] and "acc_norm" in lines[1].split()
