"""Circular evaluation's arithmetic on a table worked out by hand (OpenCompass's CircularEval).

Three questions, four options, every rotation. Rotation k moves the option at position i + k to
position i, so the right letter of a question answered B at rot0 is A at rot1, D at rot2, C at rot3.

    question  answers (rot0..3)   picks         right
    q1        B A D C             B A D C       4/4   (always the right text)
    q2        A D C B             A A A A       1/4   (always "A")
    q3        C B A D             C B A A       3/4

Circular accuracy (right under every rotation): 1/3. Plain accuracy over rotations: 8/12.
Picks: A 7/12, B 2/12, C 2/12, D 1/12; answers: 3/12 each. Position bias (total variation
distance): (4 + 1 + 1 + 2) / 12 / 2 = 1/3.
"""

from __future__ import annotations

import pytest

from pytest_llmeval.results.circular import circular_rows, questions
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.samples import Sample
from pytest_llmeval.suites.variants import rotate

TABLE = {"q1": ("BADC", "BADC"), "q2": ("ADCB", "AAAA"), "q3": ("CBAD", "CBAA")}


def rotation(question: str, k: int, pick: str | None, target: str, **extra: object) -> SampleResult:
    r = SampleResult(model="m", suite="s", subject="quiz", id=f"{question}-rot{k}", version="v",
                     nodeid=f"s.llmeval.yaml::quiz::{question}-rot{k}[m]", target=target, extracted=pick,
                     robustness="circular", question=question, variant=f"rot{k}", variants=4)
    for key, value in extra.items():
        setattr(r, key, value)
    if r.error is None:
        r.set_verdict(pick == target)
    return r


def table() -> list[SampleResult]:
    return [rotation(q, k, picks[k], answers[k]) for q, (answers, picks) in TABLE.items() for k in range(4)]


def test_rotating_moves_the_answer_with_its_text() -> None:
    sample = Sample("q1", "quiz", {"question": "?", "A": "w", "B": "x", "C": "y", "D": "z", "answer": "B"}, "B",
                    ("w", "x", "y", "z"))
    targets = [rotate(sample, k, 4) for k in range(4)]
    assert [t.target for t in targets] == list("BADC")  # the hand table's q1
    assert all(t.choices["ABCD".index(t.target)] == "x" for t in targets)
    assert targets[1].choices == ("x", "y", "z", "w") and targets[1].fields["A"] == "x"
    assert targets[1].fields["answer"] == "A" and targets[1].id == "q1-rot1" and targets[1].question == "q1"


def test_circular_accuracy_matches_the_hand_worked_table() -> None:
    merged = {r.id: r for r in questions(table())}
    assert {q: r.correct for q, r in merged.items()} == {"q1": True, "q2": False, "q3": False}
    (row,) = circular_rows(table(), ["m"])
    assert (row.questions, row.correct, row.score) == (3, 1, pytest.approx(1 / 3))
    assert (row.rotations, row.rotations_correct, row.accuracy) == (12, 8, pytest.approx(8 / 12))
    assert row.picks == pytest.approx({"A": 7 / 12, "B": 2 / 12, "C": 2 / 12, "D": 1 / 12}, abs=1e-6)
    assert row.targets == pytest.approx(dict.fromkeys("ABCD", 0.25))
    assert row.bias == pytest.approx(1 / 3, abs=1e-6) and (row.errors, row.incomplete) == (0, 0)


def test_an_error_in_one_rotation_makes_the_question_an_error_not_a_miss() -> None:
    results = table()
    results[1] = rotation("q1", 1, None, "A", error="503 from the server")
    merged = {r.id: r for r in questions(results)}
    assert merged["q1"].correct is None and merged["q1"].error == "rot1: 503 from the server"
    (row,) = circular_rows(results, ["m"])
    assert (row.questions, row.correct, row.errors, row.rotations) == (2, 0, 1, 11)


def test_a_question_missing_rotations_is_scored_over_those_that_ran_and_counted_incomplete() -> None:
    only_rot0 = [r for r in table() if r.variant == "rot0"]
    (row,) = circular_rows(only_rot0, ["m"])
    assert (row.questions, row.correct, row.incomplete) == (3, 3, 3)


def test_plain_samples_pass_through() -> None:
    plain = SampleResult(model="m", suite="s", subject="quiz", id="7", version="v", nodeid="n")
    plain.set_verdict(True)
    assert questions([plain]) == [plain] and circular_rows([plain], ["m"]) == []
