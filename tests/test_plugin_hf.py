"""The ``hf`` backend through the whole plugin, on the real bundled SmolLM2 read by transformers:
chosen with ``--llm-backend=hf`` or by a profile, in ``gen``, ``ll`` and ``cloze`` modes, with and without xdist."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import read_results, read_samples, write_mc_suite


PROFILES = """\
default: smol-hf
models:
  smol-hf:
    backend: hf
    model: SmolLM2-135M-Instruct
    options: {dtype: float32, batch_size: 4}
"""
NO_CACHE = ["--llm-cache=off", "-p", "no:cacheprovider"]
# pytester points HOME at a temporary folder; xdist workers must still find the GGUF's converted
# copy (see backends/hf/load.py) where the session put it, or each would convert it again (16 s apiece).
CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


@pytest.fixture
def suites(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE_HOME)
    write_mc_suite(pytester, "quiz-gen", extra="generation: {max_tokens: 6, stop: [\"\\n\"]}\n", threshold=0.0)
    write_mc_suite(pytester, "quiz-ll", extra="mode: ll\n", threshold=0.0)
    write_mc_suite(pytester, "quiz-cloze", extra="mode: cloze\nscoring: {mutual_info: true}\n", threshold=0.0)
    return pytester


def _rows(folder: Any) -> list[dict[str, Any]]:
    """The subject rows, without the model's name (one run names it by profile, one by default)."""
    return sorted(({k: v for k, v in row.items() if k != "model"} for row in read_results(folder)["subjects"]),
                  key=lambda r: (r["suite"], r["subject"]))


def _answers(folder: Any) -> dict[tuple[str, str], tuple[str, str, bool]]:
    return {(s["suite"], s["id"]): (s["reply"], s["extracted"], s["correct"]) for s in read_samples(folder)}


def test_the_hf_backend_runs_suites_alike_by_option_by_profile_and_under_xdist(suites, hf_backend):
    by_option = suites.runpytest("--llm-backend=hf", "--llm-report-dir=option", *NO_CACHE)
    assert by_option.ret == 0, by_option.stdout.str()
    suites.makefile(".yaml", llm_models=PROFILES)
    profiled = suites.runpytest("-n", "2", "--llm-report-dir=profile", *NO_CACHE)
    assert profiled.ret == 0, profiled.stdout.str()

    option_dir, profile_dir = suites.path / "option", suites.path / "profile"
    assert [m["backend"] for m in read_results(option_dir)["run"]["models"]] == ["hf"]
    assert [m["name"] for m in read_results(profile_dir)["run"]["models"]] == ["smol-hf"]
    assert _rows(option_dir) == _rows(profile_dir) and len(_rows(option_dir)) == 6
    answers = _answers(option_dir)
    assert answers == _answers(profile_dir) and len(answers) == 18
    samples = read_samples(option_dir)
    ll = [s for s in samples if s["suite"] == "quiz-ll"]
    assert all(s["error"] is None for s in samples) and all(s["extracted"] in tuple("ABCD") for s in ll)
    assert all(s["reply"].count(":") == 4 for s in ll)  # "A:-1.2345 B:..." the four log-likelihoods
    cloze = [s for s in samples if s["suite"] == "quiz-cloze"]
    assert all(set(s["picks"]) == {"acc", "acc_norm", "acc_bytes", "acc_mutual_info"} for s in cloze)
    from pytest_llmeval.backends.base import LoglikelihoodRequest
    from tests.e2e import MC_ROWS, mc_user_message

    first = next(s for s in cloze if s["id"] == "q1")
    texts = tuple(" " + text for text in MC_ROWS[0]["choices"])  # the option texts after the prompt
    direct = hf_backend.loglikelihood_batch([LoglikelihoodRequest(mc_user_message(MC_ROWS[0]), texts)])[0]
    assert first["logprobs"] == pytest.approx(list(direct.logprobs), abs=1e-4)
    gen = [s for s in samples if s["suite"] == "quiz-gen"]
    assert all(0 < s["completion_tokens"] <= 6 and "\n" not in s["reply"] for s in gen)
    # a letter, or no readable answer ("A. Mercury" for "Red planet?", Mars being A), never both
    assert all((s["extracted"] in tuple("ABCD")) != s["unparsed"] for s in gen)
