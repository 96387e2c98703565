"""The bundled SmolLM2 model, offline: the example suites, and the same suite through llama_cpp.server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import read_results, read_samples

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "example_suites"
# What `pip install -e '.[llamacpp]'` does not install: the `test` extra and the other extras.
NOT_IN_THE_LLAMACPP_EXTRA = ("scipy", "playwright", "markdown_it", "pyarrow", "datasets", "torch",
                             "transformers", "accelerate", "gguf")
_MISSING = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed by .[llamacpp])", name=name)
        return None

sys.meta_path.insert(0, Missing())
"""


@pytest.fixture
def examples(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "example_suites"
    shutil.copytree(EXAMPLES, target)
    return target


def test_example_suites_run_offline_and_match_their_own_baseline_under_xdist(pytester, examples, smollm2_backend):
    result = pytester.runpytest("example_suites", "--llm-report-dir=out", "-p", "no:cacheprovider",
                                "--llm-update-baseline", "--llm-baseline=baseline.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*llmeval summary*", "*chinese-general*中国地理*", "*world-facts-ll*science*"])
    data = read_results(pytester.path / "out")
    suites = {(r["suite"], r["mode"]) for r in data["subjects"]}
    assert {("world-facts", "gen"), ("world-facts-ll", "ll"), ("chinese-general", "gen"), ("arithmetic", "gen"),
            ("capitals", "gen"), ("yes-no", "gen"), ("test_capitals", "test"), ("test_addition", "test"), ("summaries", "gen"),
            ("judge-smoke", "gen"), ("misconceptions-mc1", "cloze")} <= suites
    assert data["run"]["models"][0]["backend"] == "llamacpp"
    assert all(r["n"] > 0 and 0 <= r["score"] <= 1 for r in data["subjects"])
    ll = [s for s in read_samples(pytester.path / "out") if s["suite"] == "world-facts-ll"]
    assert all(s["extracted"] in "ABCD" and s["error"] is None for s in ll)

    # Determinism on a real model: every sample answered afresh (no cache) under -n 2 gives the
    # same answer as in the accepted run, so every row is compared and nothing flips.
    again = pytester.runpytest("example_suites", "--llm-baseline=baseline.json", "--llm-cache=off",
                               "--llm-report-dir=again", "-n", "2")
    assert again.ret == 0, again.stdout.str()
    data = read_results(pytester.path / "again")
    assert data["flips"] == [] and data["regressions"] == []
    assert {c["status"] for c in data["comparisons"]} == {"compared"}
    assert len(data["comparisons"]) == len(data["subjects"]) + len(data["groups"])


def test_the_example_suites_need_nothing_beyond_the_llamacpp_extra(tmp_path):
    """The README's first command runs ``pytest example_suites/`` from the checkout, in a venv with
    only ``.[llamacpp]``: nothing that run loads (conftests of the checkout included) may import a
    test-only package. Collected here with those packages made missing; .ci/run runs it for real
    in such a venv."""
    (tmp_path / "sitecustomize.py").write_text(_MISSING.format(names=set(NOT_IN_THE_LLAMACPP_EXTRA)))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider",
                           "example_suites/"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "227 tests collected" in done.stdout


def test_served_model_answers_like_the_local_one(pytester, examples, llama_server_url, smollm2_backend):
    """The same suite through the real llama_cpp.server: every sample answered and scored, and the
    served model commits to the same first line as the local one (later lines can diverge: see README)."""
    suite = "example_suites/world_facts_gen.llmeval.yaml"
    local = pytester.runpytest(suite, "-k", "geography", "--llm-report-dir=local")
    served = pytester.runpytest(
        suite, "-k", "geography", "--llm-model=local-server", f"--llm-base-url={llama_server_url}",
        "--llm-report-dir=served")
    assert local.ret == 0 and served.ret == 0, served.stdout.str()
    replies = lambda folder: {s["id"]: s for s in read_samples(pytester.path / folder)}
    local_samples, served_samples = replies("local"), replies("served")
    assert sorted(served_samples) == sorted(local_samples) and len(served_samples) == 12
    assert all(s["error"] is None and s["completion_tokens"] for s in served_samples.values())
    first_line = lambda s: s["reply"].splitlines()[0]
    assert [first_line(s) for s in served_samples.values()] == [first_line(local_samples[i]) for i in served_samples]

