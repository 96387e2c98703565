"""Groups aggregated naively or by size, group thresholds, and gating on the interval's lower bound."""

from __future__ import annotations

import json

import pytest

from tests.e2e import XDIST_MODES, read_results, write_jsonl

# geo: 4 samples, all right; sci: 1 sample, wrong. Weighted (pooled) 4/5 = 0.8; naive (1 + 0) / 2 = 0.5.
ROWS = [{"id": f"g{i}", "topic": "geo", "question": f"geo {i}?", "answer": "yes"} for i in range(4)] + \
       [{"id": "s0", "topic": "sci", "question": "sci 0?", "answer": "yes"}]


def write_suite(pytester: pytest.Pytester, aggregate: str, threshold: float) -> None:
    write_jsonl(pytester.path / "data" / "qa.jsonl", ROWS)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\n"
        "data:\n  format: jsonl\n  path: data/qa.jsonl\n  fields: {subject: topic, target: answer}\n"
        'prompt: "{question}"\n'
        f"groups: {{all: {{subjects: [geo, sci], threshold: {threshold}, aggregate: {aggregate}}}}}\n"))


def run(pytester: pytest.Pytester, model: None, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--llm-model=m", "--llm-retries=0",
                              "--llm-report-dir=out", *args)


@pytest.fixture
def model(pytester: pytest.Pytester) -> None:
    """Model m, scripted in process (pytest_llmeval.testing): gating groups needs no HTTP server."""
    replies = {f"geo {i}?": "yes" for i in range(4)} | {"sci 0?": "no"}
    pytester.makefile(".yaml", llm_models=json.dumps({"models": {"m": {
        "backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": replies, "default": "?"}}}}))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_naive_group_averages_its_subjects(pytester: pytest.Pytester, model: None, xdist: list[str]) -> None:
    write_suite(pytester, "naive", threshold=0.6)
    result = run(pytester, model, *xdist)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*threshold not met: m qa/all [[]group[]] 0.500 < 0.600 (n=5, naive mean of its subjects)*"])
    (group,) = read_results(pytester.path / "out")["groups"]
    assert (group["aggregate"], group["score"], group["score_weighted"], group["score_naive"]) == ("naive", 0.5, 0.8, 0.5)
    assert group["members"] == ["geo", "sci"] and group["ci_low"] < 0.5 < group["ci_high"]
    assert group["passed"] is False


def test_a_weighted_group_pools_its_samples(pytester: pytest.Pytester, model: None) -> None:
    write_suite(pytester, "weighted", threshold=0.6)
    assert run(pytester, model).ret == 0
    (group,) = read_results(pytester.path / "out")["groups"]
    assert (group["aggregate"], group["score"], group["n"]) == ("weighted", 0.8, 5)


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_gating_on_the_lower_bound(pytester: pytest.Pytester, model: None, xdist: list[str]) -> None:
    write_suite(pytester, "weighted", threshold=0.6)
    assert run(pytester, model, *xdist).ret == 0  # score 0.8 >= 0.6
    result = run(pytester, model, "--llm-gate=ci-low", *xdist)
    assert result.ret == 1  # but the interval [0.376, 0.964] reaches below 0.6
    result.stdout.fnmatch_lines([
        "*checked against the 95% interval's lower bound*",
        "*threshold not met: m qa/all [[]group[]] 95% interval's lower bound 0.376 < 0.600 (score 0.800, n=5*",
    ])
    document = read_results(pytester.path / "out")
    assert document["run"]["options"]["gate"] == "ci_low" and document["groups"][0]["passed"] is False


def test_a_bad_gate_is_a_usage_error(pytester: pytest.Pytester, model: None) -> None:
    write_suite(pytester, "weighted", threshold=0.6)
    result = run(pytester, model, "--llm-gate=lowest")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--llm-gate: expected score or ci-low, got 'lowest'*"])


def test_a_bad_aggregate_fails_collection_in_one_line(pytester: pytest.Pytester, model: None) -> None:
    write_suite(pytester, "median", threshold=0.6)
    result = run(pytester, model)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*qa.llmeval.yaml*groups.all.aggregate*"])
