"""Baselines end to end: accept a run, compare a changed model with McNemar's exact test, flips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest  # type: ignore[import-untyped]

from tests.e2e import GEN_N as N
from tests.e2e import gen_replies as replies
from tests.e2e import XDIST_MODES, read_results, sample_outcomes
from tests.e2e import write_gen_suite as write_suite


def run(pytester: pytest.Pytester, server: Any, *args: str, model: str = "ckpt") -> pytest.RunResult:
    return pytester.runpytest(f"--llm-model={model}", f"--llm-base-url={server.base_url}", "--llm-retries=0",
                              "--llm-cache=off", "--llm-report-dir=out", *args)


@pytest.fixture
def accepted(pytester: pytest.Pytester, fake_openai_factory: Any) -> Path:
    """A baseline accepted from a model that answers everything right but alg0..alg1 and bio0."""
    write_suite(pytester)
    server = fake_openai_factory(replies=replies({"alg0", "alg1", "bio0"}), default_reply="?")
    result = run(pytester, server, "--llm-update-baseline", "--llm-baseline=baseline.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*baseline written: baseline.json*"])
    return pytester.path / "baseline.json"


def test_update_writes_per_sample_correctness_summary_and_versions(accepted: Path) -> None:
    data = json.loads(accepted.read_text(encoding="utf-8"))
    assert data["llmeval_baseline"] == 1 and data["pytest_llmeval"]
    alg = data["models"]["ckpt"]["gen"]["subjects"]["alg"]
    assert (alg["n"], alg["correct"], alg["score"]) == (N, N - 2, (N - 2) / N)
    assert len(alg["version"]) == 8
    assert alg["samples"]["alg0"] == {"correct": False, "extracted": "C", "reply": "C"}
    assert alg["samples"]["alg5"]["correct"] is True
    assert data["models"]["ckpt"]["gen"]["groups"]["all"]["n"] == 2 * N


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_unchanged_model_passes(pytester: pytest.Pytester, fake_openai_factory: Any, accepted: Path,
                                xdist: list[str]) -> None:
    server = fake_openai_factory(replies=replies({"alg0", "alg1", "bio0"}), default_reply="?")
    result = run(pytester, server, "--llm-baseline=baseline.json", *xdist)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*change*p*", "*baseline baseline.json (ckpt, *): 3 compared, 0 regressed*"])
    document = read_results(pytester.path / "out")
    assert document["regressions"] == [] and document["flips"] == []
    assert not (pytester.path / "baseline.obtained.json").exists()
    assert all(c["status"] == "compared" and c["delta"] == 0 and c["p_value"] == 1.0 for c in document["comparisons"])


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_changed_model_regresses_with_p_values_and_flips(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                         accepted: Path, xdist: list[str]) -> None:
    # alg: 10 more wrong (right -> wrong), alg0 now right (wrong -> right); bio: one more wrong.
    worse = {f"alg{i}" for i in range(1, 12)} | {"bio0", "bio7"}
    server = fake_openai_factory(replies=replies(worse), default_reply="?")
    result = run(pytester, server, "--llm-baseline=baseline.json", *xdist)
    assert result.ret == 1
    p = binomtest(1, 11, 0.5).pvalue
    result.stdout.fnmatch_lines([
        "*gen/alg*-0.450*0.0117!*",
        "*flipped right -> wrong answer: 11 (first 5; all in the reports)*",
        "*ckpt gen/alg id=alg2: target B, was B, now C*",
        "*prompt: *alg question 2?*Answer:*",
        "*flipped wrong -> right: 1*",
        "*ckpt gen/alg id=alg0: target B, was C, now B*",
        (f"*regression: ckpt gen/alg 0.900 -> 0.450 (delta -0.450, McNemar p={p:.3g}, right->wrong 10, "
         "wrong->right 1, n=20)*"),
    ])
    assert "regression: ckpt gen/bio" not in result.stdout.str()  # one flip: p = 1
    document = read_results(pytester.path / "out")
    (regression,) = [c for c in document["regressions"] if c["kind"] == "subject"]
    assert (regression["name"], regression["right_to_wrong"], regression["wrong_to_right"]) == ("alg", 10, 1)
    assert regression["p_value"] == pytest.approx(p, rel=1e-12)
    flips = document["flips"]
    assert len(flips) == 12 and [f["direction"] for f in flips].count("right_to_wrong") == 11
    first = flips[0]
    assert first["id"] == "alg2" and first["target"] == "B" and first["extracted"] == "C"
    assert first["baseline_extracted"] == "B" and "alg question 2?" in first["prompt"] and first["reply"] == "C"
    group = next(c for c in document["comparisons"] if c["kind"] == "group")
    assert (group["right_to_wrong"], group["wrong_to_right"], group["n_paired"]) == (11, 1, 2 * N)
    assert document["verdict"]["passed"] is False
    # pytest-regressions' habit: what was obtained is left beside the baseline, to diff or accept
    result.stdout.fnmatch_lines(["*this run's baseline: baseline.obtained.json (diff it with baseline.json*"])
    obtained = json.loads((pytester.path / "baseline.obtained.json").read_text(encoding="utf-8"))
    assert obtained["models"]["ckpt"]["gen"]["subjects"]["alg"]["correct"] == N - 11


def test_a_drop_within_the_tolerance_is_not_a_regression(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                        accepted: Path) -> None:
    worse = {"alg0", "alg1", "bio0"} | {f"alg{i}" for i in range(2, 10)}  # 8 right -> wrong: p = 0.0078
    server = fake_openai_factory(replies=replies(worse), default_reply="?")
    assert run(pytester, server, "--llm-baseline=baseline.json").ret == 1
    result = run(pytester, server, "--llm-baseline=baseline.json", "--llm-regression-tolerance=0.45")
    assert result.ret == 0, result.stdout.str()
    result = run(pytester, server, "--llm-baseline=baseline.json", "--llm-regression-significance=0.005")
    assert result.ret == 0, result.stdout.str()


def test_a_changed_prompt_is_not_comparable(pytester: pytest.Pytester, fake_openai_factory: Any,
                                            accepted: Path) -> None:
    prompt = "Q: {question}\n{choices}\nA:"
    write_suite(pytester, prompt=prompt)
    server = fake_openai_factory(replies=replies({f"alg{i}" for i in range(12)}, prompt), default_reply="?")
    result = run(pytester, server, "--llm-baseline=baseline.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*n/c*", "*not comparable: ckpt gen/alg: version * in the baseline, * now*",
                                 "*not comparable: ckpt gen/all [[]group[]]: member alg: version*"])
    document = read_results(pytester.path / "out")
    assert {c["status"] for c in document["comparisons"]} == {"not_comparable"}
    assert document["regressions"] == []


def test_a_missing_baseline_is_written_and_the_run_fails(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    write_suite(pytester)
    server = fake_openai_factory(replies=replies(set()), default_reply="?")
    result = run(pytester, server, "--llm-baseline=new/baseline.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*baseline new/baseline.json did not exist: written from this run*"])
    assert (pytester.path / "new" / "baseline.json").is_file()
    assert run(pytester, server, "--llm-baseline=new/baseline.json").ret == 0


def test_a_baseline_of_another_model_is_compared(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                 accepted: Path) -> None:
    server = fake_openai_factory(replies=replies({f"alg{i}" for i in range(12)}), default_reply="?")
    result = run(pytester, server, "--llm-baseline=baseline.json", model="next-ckpt")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*baseline baseline.json (ckpt, *)*", "*regression: next-ckpt gen/alg*"])
    assert read_results(pytester.path / "out")["comparisons"][0]["baseline_model"] == "ckpt"


def test_updating_a_subset_keeps_the_rest(pytester: pytest.Pytester, fake_openai_factory: Any, accepted: Path) -> None:
    before = json.loads(accepted.read_text(encoding="utf-8"))
    server = fake_openai_factory(replies=replies({f"alg{i}" for i in range(12)}), default_reply="?")
    result = run(pytester, server, "--llm-baseline=baseline.json", "--llm-update-baseline", "-k", "alg")
    assert result.ret == 0, result.stdout.str()  # accepting a drop is the point of updating
    result.stdout.fnmatch_lines(["*regressed*"])
    after = json.loads(accepted.read_text(encoding="utf-8"))
    assert after["models"]["ckpt"]["gen"]["subjects"]["bio"] == before["models"]["ckpt"]["gen"]["subjects"]["bio"]
    assert after["models"]["ckpt"]["gen"]["subjects"]["alg"]["correct"] == N - 12


def test_a_run_with_errors_does_not_update_the_baseline(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                        accepted: Path) -> None:
    before = accepted.read_bytes()
    server = fake_openai_factory(replies=replies(set()), default_reply="?", fail_first=1, fail_status=500)
    result = run(pytester, server, "--llm-baseline=baseline.json", "--llm-update-baseline", "--llm-concurrency=1")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*baseline baseline.json not written: 1 sample(s) had backend errors*"])
    assert accepted.read_bytes() == before


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "baseline bad.json: line 1 column 2: not JSON*"),
    ('{"results": []}', "baseline bad.json: llmeval_baseline: expected format 1, got None*"),
    ('{"llmeval_baseline": 1, "created": "x", "models": {"m": {"s": {"subjects": {"a": {"version": 3}}}}}}',
     "baseline bad.json: models.m.s.subjects.a.version: *"),
])
def test_a_bad_baseline_is_one_line(pytester: pytest.Pytester, fake_openai_factory: Any, content: str,
                                    message: str) -> None:
    write_suite(pytester)
    (pytester.path / "bad.json").write_text(content, encoding="utf-8")
    server = fake_openai_factory(replies=replies(set()), default_reply="?")
    result = run(pytester, server, "--llm-baseline=bad.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()
    assert sample_outcomes(result)["passed"] == 2 * N


@pytest.mark.parametrize("flags", [["-p", "no:terminal"], ["-p", "no:terminal", "-n", "2"], ["-p", "no:xdist"]],
                         ids=["no-terminal", "no-terminal-n2", "no-xdist"])
def test_the_verdict_holds_without_the_terminal(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                accepted: Path, flags: list[str]) -> None:
    worse = {f"alg{i}" for i in range(1, 12)}
    server = fake_openai_factory(replies=replies(worse), default_reply="?")
    assert run(pytester, server, "--llm-baseline=baseline.json", *flags).ret == 1
    assert read_results(pytester.path / "out")["regressions"]


def test_an_ini_baseline_is_relative_to_the_rootdir(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    write_suite(pytester)
    pytester.makeini("[pytest]\nllm_baseline = baselines/ckpt.json\n")
    server = fake_openai_factory(replies=replies(set()), default_reply="?")
    assert run(pytester, server, "--llm-update-baseline").ret == 0
    assert (pytester.path / "baselines" / "ckpt.json").is_file()
    sub = pytester.mkdir("sub")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = pytester.runpytest("--llm-model=ckpt", f"--llm-base-url={server.base_url}", "--llm-cache=off",
                                    str(pytester.path))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*3 compared, 0 regressed*"])
