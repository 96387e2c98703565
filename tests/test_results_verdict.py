"""The verdict lines, as a table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.verdict import failures


def scored(right: int, wrong: int, subject: str = "anatomy", model: str = "smollm2", **kw: Any) -> list[SampleResult]:
    kw.setdefault("threshold", 0.5)
    return [
        SampleResult(model=model, suite="mmlu-demo", subject=subject, id=f"{subject}-{i}", version="v1",
                     nodeid="n", correct=i < right, **kw)
        for i in range(right + wrong)
    ]


def failed(id: str, error: str, subject: str = "anatomy", fatal: bool = False, threshold: float | None = 0.5) -> SampleResult:
    return SampleResult(model="smollm2", suite="mmlu-demo", subject=subject, id=id, version="v1", nodeid="n",
                        threshold=threshold, error=error, fatal=fatal)


STEM: dict[str, Any] = {"groups": ["stem"], "group_thresholds": {"stem": 0.6}}

def unparsed(right: int, unreadable: int, limit: float | None = 0.05, **kw: Any) -> list[SampleResult]:
    """``right`` answers read right and ``unreadable`` replies with no readable answer."""
    return [SampleResult(model="smollm2", suite="mmlu-demo", subject="anatomy", id=f"u-{i}", version="v1", nodeid="n",
                         correct=i < right, rule="opening letter" if i < right else "echoed options",
                         unparsed=i >= right, max_unparsed=limit, **kw)
            for i in range(right + unreadable)]


CASES = [
    pytest.param(scored(5, 3), [], id="met"),
    pytest.param(unparsed(57, 3), [], id="unparsed-within-its-limit"),
    pytest.param(unparsed(55, 5), ["unparsed share over its limit: smollm2 mmlu-demo/anatomy 0.083 > 0.050 "
                                   "(5 of 60 replies had no readable answer)"], id="unparsed-over-its-limit"),
    pytest.param(unparsed(5, 5, threshold=0.9), [
        "threshold not met: smollm2 mmlu-demo/anatomy 0.500 < 0.900 (n=10)",
        "unparsed share over its limit: smollm2 mmlu-demo/anatomy 0.500 > 0.050 (5 of 10 replies had no readable answer)",
    ], id="threshold-then-unparsed"),

    pytest.param(scored(1, 9, threshold=None), [], id="no-threshold"),
    pytest.param(scored(14, 20), ["threshold not met: smollm2 mmlu-demo/anatomy 0.412 < 0.500 (n=34)"], id="unmet"),
    pytest.param(
        scored(4999, 5001), ["threshold not met: smollm2 mmlu-demo/anatomy 0.4999 < 0.5000 (n=10000)"],
        id="close-call-shows-more-digits",
    ),
    pytest.param(
        scored(3, 1, subject="a", **STEM) + scored(1, 3, subject="b", threshold=0.2, **STEM),
        ["threshold not met: smollm2 mmlu-demo/stem [group] 0.500 < 0.600 (n=8)"],
        id="group",
    ),
    pytest.param(
        scored(1, 3, model="qwen") + scored(1, 3, subject="biology"),
        [
            "threshold not met: qwen mmlu-demo/anatomy 0.250 < 0.500 (n=4)",
            "threshold not met: smollm2 mmlu-demo/biology 0.250 < 0.500 (n=4)",
        ],
        id="sorted-by-suite-subject-model",
    ),
    pytest.param(
        scored(3, 0) + [failed("x", "timed out after 30s\nTraceback ...")],
        ["1 sample had a backend error (smollm2 mmlu-demo/anatomy id=x: timed out after 30s)"],
        id="one-error",
    ),
    pytest.param(
        [failed("b", "HTTP 500"), failed("a", "HTTP 502", subject="virology", threshold=None)] + scored(3, 0),
        ["2 samples had backend errors (first: smollm2 mmlu-demo/anatomy id=b: HTTP 500)"],
        id="errors-do-not-change-passed",
    ),
    pytest.param(
        [failed("a", "timeout"), failed("b", "timeout")],
        [
            "threshold not met: smollm2 mmlu-demo/anatomy has no scored samples, needs 0.500 (n=0, errors=2)",
            "2 samples had backend errors (first: smollm2 mmlu-demo/anatomy id=a: timeout)",
        ],
        id="only-errors",
    ),
    pytest.param(
        [failed("a", "HTTP 401 from http://host/v1: check LLM_API_KEY", fatal=True)],
        [
            "threshold not met: smollm2 mmlu-demo/anatomy has no scored samples, needs 0.500 (n=0, errors=1)",
            "1 sample had a backend error (smollm2 mmlu-demo/anatomy id=a: HTTP 401 from http://host/v1: check LLM_API_KEY)",
            "HTTP 401 from http://host/v1: check LLM_API_KEY",
        ],
        id="fatal",
    ),
]


@pytest.mark.parametrize(("results", "expected"), CASES)
def test_failures(results: list[SampleResult], expected: list[str]) -> None:
    assert failures(aggregate(results)) == expected


def test_no_results_pass() -> None:
    assert failures(aggregate([])) == []
