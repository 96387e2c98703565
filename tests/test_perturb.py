"""Perturbation consistency (``perturb:``) end to end on a scripted model, and its transforms.

The model reads the options and names the letter of the right option's text, except when the
question is shouted (upper case), when it says "A". So every variant but ``case`` is right; under
``case`` q2 (answer A) stays right and consistent, q1 and q3 flip: consistency 1/3, originals 3/3,
variants 16/18.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from pytest_llmeval.samples import Sample
from pytest_llmeval.suites.schema import PerturbConfig
from pytest_llmeval.suites.variants import perturb_variants, shuffle_permutation, typos
from tests.e2e import read_results, read_samples, sample_outcomes, write_jsonl
from tests.test_shards import merge

ROWS = [
    {"id": "q1", "question": "Capital of France?", "choices": ["Berlin", "Paris", "Rome", "Oslo"], "answer": "B"},
    {"id": "q2", "question": "Largest ocean?", "choices": ["Pacific", "Atlantic", "Indian", "Arctic"], "answer": "A"},
    {"id": "q3", "question": "Closest planet to the Sun?", "choices": ["Mars", "Venus", "Mercury", "Earth"], "answer": "C"},
]
MODEL = '''
RIGHT = {"Paris", "Pacific", "Mercury"}


def answer(request):
    text = request.messages[-1]["content"]
    lines = text.splitlines()
    if lines[0].removeprefix("Q: ").isupper():
        return "The answer is A"
    picked = [line[0] for line in lines if line[1:3] == ". " and line[3:] in RIGHT]
    return f"The answer is {picked[0]}" if picked else "no idea"
'''
PERTURB = ('{seed: 7, shuffle_options: true, whitespace: true, case: upper, typo: {rate: 0.1}, '
           'distractor_sentence: true, prompt_variant: ["Q: {question}\\n{choices}\\nA:"], min_consistency: 0.5}')


def setup(pytester: pytest.Pytester, perturb: str = PERTURB) -> None:
    write_jsonl(pytester.path / "data" / "quiz.jsonl", ROWS)
    pytester.makefile(".llmeval.yaml", quiz=(
        "name: quiz\ntask: multiple_choice\n"
        "data:\n  format: jsonl\n  path: data/quiz.jsonl\n  subject: capitals\n"
        'prompt: "{question}\\n{choices}\\nAnswer:"\nthreshold: 0.9\n'
        f"perturb: {perturb}\n"))
    pytester.makepyfile(quizmodel=MODEL)
    pytester.makeconftest("import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent))\n")
    pytester.makefile(".yaml", llm_models=json.dumps({"models": {"m": {
        "backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": {}, "reply": "quizmodel:answer"}}}}))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--llm-model=m", "--llm-retries=0", "--llm-cache=off", "--llm-report-dir=out", *args)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_consistency_is_measured_and_gated(pytester: pytest.Pytester, xdist: list[str]) -> None:
    setup(pytester)
    result = run(pytester, "-v", *xdist)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*quiz.llmeval.yaml::capitals::q1-typo?m?*",
                                 "*consistency not met: m quiz/capitals 0.333 < 0.500 (1/3 questions answered alike*"])
    outcomes = sample_outcomes(result)
    assert outcomes["passed"] + outcomes.get("missed", 0) == 21  # 3 questions x (original + 6 variants)
    document = read_results(pytester.path / "out")
    (subject,) = document["subjects"]
    assert (subject["n"], subject["correct"], subject["passed"]) == (3, 3, True)  # the originals
    (row,) = document["perturb"]
    assert (row["questions"], row["original_correct"], row["variants"], row["variants_correct"]) == (3, 3, 18, 16)
    assert (row["consistent"], row["consistency"], row["passed"]) == (1, pytest.approx(1 / 3), False)
    assert row["by_transform"] == {"case": pytest.approx(1 / 3, abs=1e-6), "distractor_sentence": 1.0,
                                   "prompt_variant1": 1.0, "shuffle_options": 1.0, "typo": 1.0, "whitespace": 1.0}
    result.stdout.fnmatch_lines(["*perturb m quiz/capitals: originals 3/3 (100.0%), variants 16/18 (88.9%), "
                                 "consistency 1/3 (33.3%, min 0.500); case 33% distractor_sentence 100%*"])
    prompts = {s["id"]: s["prompt"] for s in read_samples(pytester.path / "out")}
    assert prompts["q1-case"].startswith("CAPITAL OF FRANCE?") and prompts["q1-prompt_variant1"].startswith("Q: ")
    assert prompts["q1-whitespace"].startswith("Capital  of  France?")
    assert "pleasant" in prompts["q1-distractor_sentence"] and prompts["q1-typo"] != prompts["q1-orig"]
    assert 'id="perturb-table"' in (pytester.path / "out" / "report.html").read_text(encoding="utf-8")


def test_shards_merge_variants_of_one_question(pytester: pytest.Pytester) -> None:
    setup(pytester)
    run(pytester, "--llm-report-dir=whole")
    for index in (1, 2):
        run(pytester, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/2")
    merged = merge(pytester, "shard1", "shard2", "--out", "merged")
    assert merged.returncode == 1, merged.stdout + merged.stderr
    one, many = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    assert many["perturb"] == one["perturb"] and many["subjects"] == one["subjects"]
    assert many["verdict"]["failures"] == one["verdict"]["failures"]


@pytest.mark.parametrize(("perturb", "expected"), [
    ("{}", "*perturb: names no transform*"),
    ("{typo: {rate: 2}}", "*perturb.typo.rate*"),
    ('{prompt_variant: ["{nope}"]}', "*perturb.prompt_variant[[]0[]]*nope*"),
])
def test_bad_perturb_settings_are_one_line(pytester: pytest.Pytester, perturb: str, expected: str) -> None:
    setup(pytester, perturb)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([expected])
    assert "Traceback" not in result.stdout.str()


def sample(i: int) -> Sample:
    return Sample(f"s{i}", "sub", {"question": f"What is the name of thing number {i}?", "A": "a", "B": "b", "C": "c",
                                   "D": "d"}, "B", ("a", "b", "c", "d"))


def test_transforms_are_deterministic_per_seed_and_sample() -> None:
    config = PerturbConfig(seed=3, shuffle_options=True, typo={"rate": 0.2})
    first = perturb_variants([sample(1), sample(2)], config, "suite/sub", "x")
    again = perturb_variants([sample(0), sample(2), sample(1)], config, "suite/sub", "x")  # other rows, other order
    assert [v for v in again if v.question in ("s1", "s2")] == sorted(first, key=lambda v: v.question == "s1")
    other = perturb_variants([sample(1)], PerturbConfig(seed=4, shuffle_options=True, typo={"rate": 0.2}), "suite/sub", "x")
    assert [v.fields["question"] for v in other] != [v.fields["question"] for v in first[:3]] or \
        [v.choices for v in other] != [v.choices for v in first[:3]]
    shuffled = next(v for v in first if v.id == "s1-shuffle_options")
    assert shuffled.choices["ABCD".index(shuffled.target)] == "b" and shuffled.choices != ("a", "b", "c", "d")


def test_a_typo_always_changes_the_text_and_a_shuffle_is_never_the_identity() -> None:
    rng = random.Random(0)
    for _ in range(200):
        text = "Which of these is a prime number?"
        assert typos(text, 0.01, rng) != text
        assert shuffle_permutation(4, rng) != [0, 1, 2, 3]
    assert typos("12 + 3?", 0.5, rng) == "12 + 3?"  # nothing to swap


def test_a_shuffled_pick_is_compared_as_the_option_it_names() -> None:
    from pytest_llmeval.results.payload import SampleResult
    from pytest_llmeval.results.perturb import answer_of

    r = SampleResult(model="m", suite="s", subject="x", id="q-shuffle_options", version="v", nodeid="n",
                     extracted="B", variant="shuffle_options:CADB")
    assert answer_of(r) == "A"  # position B shows the original option A
