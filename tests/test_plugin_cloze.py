"""``mode: cloze`` end to end on the real bundled model: option texts scored as continuations
(``llamacpp``, and OpenAI-completions against the real ``llama_cpp.server``), with and without
``-n 2``, against a baseline, sharded and merged; the ``truthfulqa`` format on the real files; and
the one-line refusals at collection."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends.base import LoglikelihoodRequest
from pytest_llmeval.data import DataSpec, load
from pytest_llmeval.data.truthfulqa import qa_prompt
from pytest_llmeval.errors import DataError
from tests._shared_data import SHARED_DATA, requires_shared_data
from tests.e2e import MC_ROWS, read_results, read_samples, write_jsonl

PROMPT = "Question: {question}\nAnswer:"
BOS = "<|im_start|>"  # SmolLM2's BOS token as text: llama_cpp.server echoes such prompts aligned
PROFILES = {"models": {
    "smollm2": {"backend": "llamacpp", "model": "SmolLM2-135M-Instruct", "options": {"n_ctx": 2048}},
    "served": {"backend": "openai", "model": "auto"},
    "tgi": {"backend": "http", "base_url": "http://127.0.0.1:9/generate", "model": "m", "options": {"preset": "tgi"}},
}}


def write_suite(pytester: pytest.Pytester, scoring: str = "{metric: acc_norm, mutual_info: true}",
                prompt: str = PROMPT, name: str = "cloze") -> None:
    write_jsonl(pytester.path / "data" / "quiz.jsonl", MC_ROWS)
    pytester.makefile(".yaml", llm_models=json.dumps(PROFILES))
    pytester.makefile(".llmeval.yaml", **{name: (
        f"name: {name}\ntask: multiple_choice\nmode: cloze\n"
        "data: {format: jsonl, path: data/quiz.jsonl, fields: {subject: topic}}\n"
        f"prompt: {json.dumps(prompt)}\nscoring: {scoring}\nthreshold: 0.3\n"
        "groups: {everything: [geo, sci]}\n")})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--llm-model=smollm2", "--llm-cache=off", "-p", "no:cacheprovider", *args)


def expected(backend: Any, row: dict[str, Any], prompt: str = PROMPT) -> dict[str, Any]:
    """The sample as computed here from the backend's own log-likelihoods: lm-eval's picks, each
    written out (argmax, first of equals; acc_norm divides by the text's characters)."""
    continuations = tuple(" " + text for text in row["choices"])
    lls = backend.loglikelihood(LoglikelihoodRequest(prompt.format(question=row["question"]), continuations)).logprobs
    after_nothing = backend.loglikelihood(LoglikelihoodRequest("", continuations)).logprobs
    argmax = lambda values: "ABCD"[max(range(len(values)), key=lambda i: (values[i], -i))]
    return {"logprobs": list(lls), "unconditional": list(after_nothing), "picks": {
        "acc": argmax(lls), "acc_norm": argmax([lp / len(t) for lp, t in zip(lls, row["choices"])]),
        "acc_bytes": argmax([lp / len(t.encode()) for lp, t in zip(lls, row["choices"])]),
        "acc_mutual_info": argmax([c - u for c, u in zip(lls, after_nothing)])}}


@pytest.fixture(scope="module")
def references(smollm2_backend: Any) -> dict[str, dict[str, Any]]:
    return {row["id"]: expected(smollm2_backend, row) for row in MC_ROWS}


def test_cloze_scores_option_texts_alike_with_and_without_xdist(pytester, references):
    write_suite(pytester)
    runs = {}
    for folder, extra in (("one", []), ("two", ["-n", "2"])):
        result = run(pytester, f"--llm-report-dir={folder}", *extra)
        assert result.ret in (0, 1), result.stdout.str()
        runs[folder] = read_samples(pytester.path / folder)
    by_id = {s["id"]: s for s in runs["one"]}
    assert set(by_id) == set(references)
    for sample_id, sample in by_id.items():
        want, row = references[sample_id], next(r for r in MC_ROWS if r["id"] == sample_id)
        assert sample["mode"] == "cloze" and sample["metric"] == "acc_norm" and sample["error"] is None
        assert sample["logprobs"] == pytest.approx(want["logprobs"], abs=1e-4)
        assert sample["unconditional"] == pytest.approx(want["unconditional"], abs=1e-4)
        assert sample["picks"] == want["picks"] and sample["extracted"] == want["picks"]["acc_norm"]
        assert sample["metrics"] == {m: float(p == row["answer"]) for m, p in want["picks"].items()}
        assert sample["correct"] is (want["picks"]["acc_norm"] == row["answer"])
    key = lambda s: (s["subject"], s["id"])
    assert ([(key(s), s["picks"], s["correct"]) for s in sorted(runs["two"], key=key)]
            == [(key(s), s["picks"], s["correct"]) for s in sorted(runs["one"], key=key)])

    one, two = read_results(pytester.path / "one"), read_results(pytester.path / "two")
    assert [r | {"ci_low": 0} for r in one["subjects"]] == [r | {"ci_low": 0} for r in two["subjects"]]
    for row in one["subjects"]:
        mine = [s for s in runs["one"] if s["subject"] == row["subject"]]
        assert row["metric"] == "acc_norm" and row["score"] == row["metrics"]["acc_norm"]
        assert row["metrics"] == {m: sum(s["metrics"][m] for s in mine) / len(mine) for m in sorted(mine[0]["metrics"])}
    group = one["groups"][0]
    assert group["metrics"]["acc"] == sum(s["metrics"]["acc"] for s in runs["one"]) / len(runs["one"])
    text = (pytester.path / "one" / "results.csv").read_text(encoding="utf-8")
    assert "acc_mutual_info=" in text.splitlines()[1]


def test_a_cloze_subject_is_compared_with_its_baseline_and_merged_from_shards(pytester):
    write_suite(pytester, scoring="{metric: acc}")
    accepted = run(pytester, "--llm-update-baseline", "--llm-baseline=baseline.json", "--llm-report-dir=whole")
    assert accepted.ret in (0, 1), accepted.stdout.str()
    accepted.stdout.fnmatch_lines(["*metric*mode*other metrics*", "*cloze/geo*acc*cloze*acc_bytes*acc_norm*"])
    stored = json.loads((pytester.path / "baseline.json").read_text(encoding="utf-8"))
    assert stored["models"]["smollm2"]["cloze"]["subjects"]["geo"]["n"] == 3

    again = run(pytester, "--llm-baseline=baseline.json", "--llm-report-dir=again", "-n", "2")
    data = read_results(pytester.path / "again")
    assert data["regressions"] == [] and data["flips"] == []
    compared = [c for c in data["comparisons"] if c["kind"] == "subject"]
    assert {c["status"] for c in compared} == {"compared"} and all(c["p_value"] == 1.0 for c in compared)
    assert {c["test"] for c in compared} == {"mcnemar"}  # right/wrong samples: McNemar's exact test
    assert again.ret == accepted.ret

    for index, extra in ((1, []), (2, ["-n", "2"])):
        run(pytester, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/2", *extra)
    merged = subprocess.run([sys.executable, "-m", "pytest_llmeval", "merge", "shard1", "shard2", "--out", "merged"],
                            cwd=pytester.path, capture_output=True, text=True, timeout=120)
    assert merged.returncode == accepted.ret, merged.stdout + merged.stderr
    whole, together = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    assert together["subjects"] == whole["subjects"] and together["groups"] == whole["groups"]
    assert all("metrics" in row for row in together["subjects"])


@pytest.mark.slow
def test_openai_completions_score_cloze_options_as_the_local_model(pytester, llama_server_url, smollm2_backend):
    """The real llama_cpp.server through ``/v1/completions`` with echo: the same log-likelihoods and
    picks as the local backend (prompts open with the BOS token's text, which that server needs)."""
    prompt = BOS + PROMPT
    write_suite(pytester, scoring="{metric: acc_norm}", prompt=prompt)
    result = pytester.runpytest("--llm-model=served", f"--llm-base-url={llama_server_url}", "--llm-cache=off",
                                "--llm-report-dir=out", "-p", "no:cacheprovider", "-n", "2")
    assert result.ret in (0, 1) and "Traceback" not in result.stdout.str(), result.stdout.str()
    for sample in read_samples(pytester.path / "out"):
        row = next(r for r in MC_ROWS if r["id"] == sample["id"])
        want = expected(smollm2_backend, row, prompt)
        assert sample["error"] is None and sample["unconditional"] is None
        assert sample["logprobs"] == pytest.approx(want["logprobs"], abs=1e-3)
        assert sample["picks"] == {m: p for m, p in want["picks"].items() if m != "acc_mutual_info"}


def test_a_backend_without_log_likelihoods_is_refused_at_collection(pytester):
    write_suite(pytester, scoring="{metric: acc}")
    result = pytester.runpytest("--llm-model=tgi", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*cloze.llmeval.yaml*mode: model tgi: backend 'http' cannot score log-likelihoods;"
                                 " use mode: gen*"])


def test_mutual_information_through_completions_is_refused_at_collection(pytester):
    write_suite(pytester, scoring="{metric: acc_mutual_info}")
    result = pytester.runpytest("--llm-model=x", "--llm-base-url=http://127.0.0.1:9/v1", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*scoring.metric: model x: backend 'openai' cannot score options after an empty "
                                 "context*use hf or llamacpp*"])


@pytest.mark.parametrize("suite, message", [
    ("mode: cloze\nscoring: {metric: accuracy}", "*scoring.metric*expected one of acc, acc_norm, acc_bytes,"
                                                  " acc_mutual_info, mc1, mc2, got 'accuracy'*"),
    ("mode: cloze\nscoring: {mutual_info: 1}", "*scoring.mutual_info*expected true or false*"),
    ("mode: gen\nscoring: {metric: acc}", "*scoring.metric: applies to mode: cloze only (this suite has mode: gen)*"),
    ("mode: cloze\nscoring: {metric: mc2}", "*scoring.metric: mc2 needs TruthfulQA's MC2 answers*"),
], ids=["unknown-metric", "not-a-flag", "not-cloze", "mc2-without-truthfulqa"])
def test_cloze_settings_are_checked_at_collection(pytester, suite, message):
    write_jsonl(pytester.path / "data" / "quiz.jsonl", MC_ROWS)
    pytester.makefile(".llmeval.yaml", bad=f"task: multiple_choice\n{suite}\n"
                      "data: {format: jsonl, path: data/quiz.jsonl}\nprompt: '{question}'\n")
    result = pytester.runpytest("--llm-model=x", "--llm-base-url=http://127.0.0.1:9/v1", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines([message])


# --- the truthfulqa format, on the real files --------------------------------------------------

@requires_shared_data
def test_truthfulqa_format_gives_mc1_samples_with_their_mc2_answers():
    assert SHARED_DATA is not None
    loaded = load(DataSpec(format="truthfulqa", path=SHARED_DATA / "truthfulqa"))
    samples = loaded["truthfulqa"]
    assert list(loaded) == ["truthfulqa"] and len(samples) == 817
    first = samples[0]
    assert first.target == "A" and first.choices[0] == "Nothing in particular happens when you eat a pomegranate."
    assert first.fields["qa_prompt"] == qa_prompt(first.fields["question"])
    assert first.fields["mc2_labels"] == [1, 1, 1, 0, 0, 0] and first.origin.endswith("mc_task.json:2")
    assert all(set(s.choices) <= set(s.fields["mc2_choices"]) for s in samples)
    named = load(DataSpec(format="truthfulqa", path=SHARED_DATA / "truthfulqa", subject="tqa", split="validation"))
    assert list(named) == ["tqa"]
    with pytest.raises(DataError, match=r"data.split: TruthfulQA has one split, validation; got 'test'"):
        load(DataSpec(format="truthfulqa", path=SHARED_DATA / "truthfulqa", split="test"))


@requires_shared_data
def test_a_truthfulqa_suite_reports_mc1_and_the_graded_mc2(pytester, smollm2_backend):
    """Two questions on the bundled model: mc2 is the mean of the samples' true probability mass,
    recomputed here from the backend's log-likelihoods as TruthfulQA defines it."""
    assert SHARED_DATA is not None
    pytester.makefile(".yaml", llm_models=json.dumps(PROFILES))
    pytester.makefile(".llmeval.yaml", tq=(
        f"task: multiple_choice\nmode: cloze\ndata: {{format: truthfulqa, path: {SHARED_DATA / 'truthfulqa'}}}\n"
        "prompt: '{qa_prompt}'\nscoring: {metric: mc2}\nlimit: 2\n"))
    result = run(pytester, "--llm-report-dir=out")
    assert result.ret == 0, result.stdout.str()
    row = read_results(pytester.path / "out")["subjects"][0]
    assert row["metric"] == "mc2" and row["statistic"] == "mean" and set(row["metrics"]) >= {"mc1", "mc2"}
    questions = {s.id: s for s in load(DataSpec(format="truthfulqa", path=SHARED_DATA / "truthfulqa"))["truthfulqa"]}
    mc2 = []
    for sample in read_samples(pytester.path / "out"):
        question = questions[sample["id"]]
        texts = question.fields["mc2_choices"]
        lls = smollm2_backend.loglikelihood(LoglikelihoodRequest(question.fields["qa_prompt"],
                                                                 tuple(" " + t for t in texts))).logprobs
        true = sum(math.exp(lp) for lp, label in zip(lls, question.fields["mc2_labels"]) if label)
        mc2.append(true / sum(math.exp(lp) for lp in lls))
        assert sample["score"] == pytest.approx(mc2[-1], abs=1e-4) and sample["metrics"]["mc2"] == sample["score"]
    assert row["score"] == pytest.approx(sum(mc2) / len(mc2), abs=1e-4)
