"""Circular evaluation end to end (``circular:``), on a scripted model: every rotation an item,
the subject scored by question, bias per letter, baselines by question, xdist and shards.

The model answers the hand-worked table of tests/test_results_circular.py: circular accuracy 1/3,
plain accuracy 8/12, picks A 7/12 B 2/12 C 2/12 D 1/12 against 1/4 each (bias 1/3).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import XDIST_MODES, read_results, read_samples, sample_outcomes, write_jsonl
from tests.test_shards import merge

ROWS = [
    {"id": "q1", "question": "Capital of France?", "choices": ["Berlin", "Paris", "Rome", "Oslo"], "answer": "B"},
    {"id": "q2", "question": "Capital of Italy?", "choices": ["Rome", "Paris", "Madrid", "Oslo"], "answer": "A"},
    {"id": "q3", "question": "Closest planet to the Sun?", "choices": ["Mars", "Venus", "Mercury", "Earth"], "answer": "C"},
]
PICKS = {"q1": "BADC", "q2": "AAAA", "q3": "CBAA"}  # per rotation 0..3: the hand-worked table
PROMPT = "{question}\n{choices}\nAnswer:"


def message(row: dict[str, Any], k: int) -> str:
    """The prompt of rotation ``k``: the option at position i + k shown at position i."""
    options = [row["choices"][(i + k) % 4] for i in range(4)]
    return row["question"] + "\n" + "\n".join(f"{label}. {text}" for label, text in zip("ABCD", options)) + "\nAnswer:"


def replies(picks: dict[str, str] = PICKS, **special: Any) -> dict[str, Any]:
    table: dict[str, Any] = {message(row, k): f"The answer is {picks[row['id']][k]}" for row in ROWS for k in range(4)}
    for key, answer in special.items():  # q1_rot1={"fail": "error", ...}
        question, k = key.split("_rot")
        table[message(next(r for r in ROWS if r["id"] == question), int(k))] = answer
    return table


def setup(pytester: pytest.Pytester, circular: str = "true", threshold: float = 0.3, mode: str = "gen",
          models: dict[str, dict[str, Any]] | None = None) -> None:
    write_jsonl(pytester.path / "data" / "quiz.jsonl", ROWS)
    pytester.makefile(".llmeval.yaml", quiz=(
        "name: quiz\ntask: multiple_choice\n"
        f"mode: {mode}\n"
        "data:\n  format: jsonl\n  path: data/quiz.jsonl\n  subject: capitals\n"
        f"prompt: {json.dumps(PROMPT)}\nthreshold: {threshold}\ncircular: {circular}\n"))
    models = models or {"m": {"replies": replies()}}
    pytester.makefile(".yaml", llm_models=json.dumps({"models": {
        name: {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": options}
        for name, options in models.items()}}))


def run(pytester: pytest.Pytester, *args: str, model: str = "m") -> pytest.RunResult:
    return pytester.runpytest(f"--llm-model={model}", "--llm-retries=0", "--llm-cache=off",
                              "--llm-report-dir=out", *args)


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_each_rotation_is_an_item_and_the_subject_scores_questions(pytester: pytest.Pytester,
                                                                  xdist: list[str]) -> None:
    setup(pytester, threshold=0.5)
    result = run(pytester, "-v", *xdist)
    assert result.ret == 1  # circular 1/3 < 0.5, though plain accuracy is 2/3
    result.stdout.fnmatch_lines(["*quiz.llmeval.yaml::capitals::q2-rot3?m?*"])
    outcomes = sample_outcomes(result)
    assert outcomes.get("passed", 0) + outcomes.get("missed", outcomes.get("failed", 0)) == 12
    document = read_results(pytester.path / "out")
    (subject,) = document["subjects"]
    assert (subject["n"], subject["correct"], subject["score"]) == (3, 1, pytest.approx(1 / 3))
    (row,) = document["circular"]
    assert (row["questions"], row["correct"], row["rotations"], row["rotations_correct"]) == (3, 1, 12, 8)
    assert row["picks"] == pytest.approx({"A": 7 / 12, "B": 2 / 12, "C": 2 / 12, "D": 1 / 12}, abs=1e-6)
    assert row["targets"] == pytest.approx(dict.fromkeys("ABCD", 0.25)) and row["bias"] == pytest.approx(1 / 3, abs=1e-6)
    result.stdout.fnmatch_lines(["*circular m quiz/capitals: 1/3 questions right under every rotation (33.3%); "
                                 "plain accuracy 8/12 rotations (66.7%); position bias 0.333 "
                                 "(picks A 58% B 17% C 17% D 8% vs answers A 25% B 25% C 25% D 25%)*"])
    samples = read_samples(pytester.path / "out")
    assert sorted(s["id"] for s in samples)[:2] == ["q1-rot0", "q1-rot1"] and len(samples) == 12
    assert {(s["question"], s["variant"]) for s in samples} >= {("q2", "rot3")}
    assert 'id="circular-table"' in (pytester.path / "out" / "report.html").read_text(encoding="utf-8")


def test_k_selects_rotations_and_the_run_says_the_questions_are_incomplete(pytester: pytest.Pytester) -> None:
    setup(pytester)
    result = run(pytester, "-k", "rot0")
    assert sample_outcomes(result)["passed"] == 3 and result.ret == 0
    result.stdout.fnmatch_lines(["*circular: m quiz/capitals: 3 of 3 question(s) ran only some of their rotations; "
                                 "scored over the rotations that ran*"])
    (row,) = read_results(pytester.path / "out")["circular"]
    assert (row["questions"], row["correct"], row["incomplete"]) == (3, 3, 3)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_an_error_in_one_rotation_makes_its_question_an_error(pytester: pytest.Pytester, xdist: list[str]) -> None:
    setup(pytester, models={"m": {"replies": replies(q1_rot1={"fail": "error", "message": "boom"})}})
    result = run(pytester, *xdist)
    assert result.ret != 0
    document = read_results(pytester.path / "out")
    (subject,) = document["subjects"]
    assert (subject["n"], subject["correct"], subject["errors"]) == (2, 0, 1)
    assert document["circular"][0]["errors"] == 1


def test_log_likelihood_mode_rotates_too(pytester: pytest.Pytester) -> None:
    setup(pytester, mode="ll", models={"m": {"replies": {}, "default": [-0.1, -1.0, -2.0, -3.0]}})  # always A
    result = run(pytester)
    assert result.ret == 1  # circular accuracy 0 < 0.3
    (row,) = read_results(pytester.path / "out")["circular"]
    assert (row["correct"], row["rotations_correct"], row["picks"], row["bias"]) == (0, 3, {"A": 1.0}, 0.75)


def test_two_rotations(pytester: pytest.Pytester) -> None:
    setup(pytester, circular="{rotations: 2}")
    result = run(pytester, "-v")
    assert sample_outcomes(result)["passed"] + sample_outcomes(result).get("missed", 0) == 6
    (row,) = read_results(pytester.path / "out")["circular"]
    assert (row["questions"], row["correct"], row["rotations"], row["incomplete"]) == (3, 2, 6, 0)  # q2 misses rot1


@pytest.mark.parametrize(("circular", "task", "expected"), [
    ("true", "exact_match", "*circular: rotates options and works only with task: multiple_choice*"),
    ("{rotations: 1}", "multiple_choice", "*circular.rotations*"),
])
def test_bad_circular_settings_are_one_line(pytester: pytest.Pytester, circular: str, task: str, expected: str) -> None:
    setup(pytester, circular=circular)
    path = pytester.path / "quiz.llmeval.yaml"
    path.write_text(path.read_text().replace("task: multiple_choice", f"task: {task}"))
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([expected])
    assert "Traceback" not in result.stdout.str()


def test_baselines_pair_by_question(pytester: pytest.Pytester) -> None:
    worse = dict(PICKS, q1="BADA")  # q1 now wrong under rot3: it flips, the others stay
    setup(pytester, models={"m": {"replies": replies()}, "n": {"replies": replies(worse)}})
    assert run(pytester, "--llm-update-baseline", "--llm-baseline=baseline.json").ret == 0
    accepted = json.loads((pytester.path / "baseline.json").read_text(encoding="utf-8"))
    subject = accepted["models"]["m"]["quiz"]["subjects"]["capitals"]
    assert sorted(subject["samples"]) == ["q1", "q2", "q3"] and (subject["n"], subject["correct"]) == (3, 1)
    run(pytester, "--llm-baseline=baseline.json", model="n")
    document = read_results(pytester.path / "out")
    (flip,) = document["flips"]
    assert (flip["id"], flip["direction"], flip["extracted"]) == ("q1", "right_to_wrong", "A")
    (comparison,) = [c for c in document["comparisons"] if c["kind"] == "subject"]
    assert (comparison["n_paired"], comparison["baseline_score"], comparison["score"]) == (3, pytest.approx(1 / 3), 0.0)
    assert comparison["right_to_wrong"] == 1


def test_shards_merge_rotations_of_one_question(pytester: pytest.Pytester) -> None:
    setup(pytester)
    assert run(pytester, "--llm-report-dir=whole").ret == 0
    for index in (1, 2, 3):
        run(pytester, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/3")
    merged = merge(pytester, "shard1", "shard2", "shard3", "--out", "merged")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    one, many = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    assert many["subjects"] == one["subjects"] and many["circular"] == one["circular"]
    assert one["circular"][0]["correct"] == 1
