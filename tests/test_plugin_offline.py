"""The bundled SmolLM2 model, offline: the example suites, and the same suite through llama_cpp.server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import read_results, read_samples

EXAMPLES = Path(__file__).resolve().parents[1] / "example_suites"


@pytest.fixture
def examples(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "example_suites"
    shutil.copytree(EXAMPLES, target)
    return target


def test_example_suites_run_offline_on_the_bundled_model(pytester, examples, smollm2_backend):
    result = pytester.runpytest("example_suites", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*llmeval summary*", "*world-facts-ll*science*", "*chinese-general*中国地理*"])
    data = read_results(pytester.path / "out")
    suites = {(r["suite"], r["mode"]) for r in data["subjects"]}
    assert {("world-facts", "gen"), ("world-facts-ll", "ll"), ("chinese-general", "gen"), ("arithmetic", "gen"),
            ("capitals", "gen"), ("test_capitals", "test")} <= suites
    assert data["run"]["models"][0]["backend"] == "llamacpp"
    assert all(r["n"] > 0 and 0 <= r["score"] <= 1 for r in data["subjects"])
    ll = [s for s in read_samples(pytester.path / "out") if s["suite"] == "world-facts-ll"]
    assert all(s["extracted"] in "ABCD" and s["error"] is None for s in ll)


def test_served_model_answers_like_the_local_one(pytester, examples, llama_server_url, smollm2_backend):
    suite = "example_suites/world_facts_gen.llmeval.yaml"
    local = pytester.runpytest(suite, "-k", "geography", "--llm-report-dir=local")
    served = pytester.runpytest(
        suite, "-k", "geography", "--llm-model=SmolLM2-135M-Instruct", f"--llm-base-url={llama_server_url}",
        "--llm-report-dir=served")
    assert local.ret == 0 and served.ret == 0, served.stdout.str()
    by_id = lambda folder: {s["id"]: s["extracted"] for s in read_samples(pytester.path / folder)}
    assert len(by_id("served")) == 12
    assert by_id("served") == by_id("local")
