"""The judge's prompts and the strict reading of its verdicts.

The replies marked "bundled" are verbatim (cut where they loop) from SmolLM2-135M-Instruct judging
the shipped calibration replies with these prompts through the plugin's llamacpp backend; the
others are written in the shapes larger judges answer in (reasoning, then the verdict line,
sometimes bold, sometimes followed by a remark)."""

from __future__ import annotations

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring.judge import (
    JUDGE_SYSTEM, Rubric, Verdict, combine_orders, judge_messages, pairwise_messages, parse_preference,
    parse_verdict,
)

PASS_FAIL = Rubric(criteria=("The answer states the reference answer's fact.",))
FIVE = Rubric(criteria=("The answer is correct.", "The answer is clear and on topic."), scale=5)

READ = [
    # larger judges
    (FIVE, "The answer names Paris, which matches the reference, and says nothing false.\n\nVerdict: [[5]]", "5"),
    (FIVE, "It gives the right city but adds an invented detail about the river.\n**Verdict: [[3]]**", "3"),
    (FIVE, "Correct and concise.\nVerdict: [[ 4 ]]\nLet me know if you need anything else.", "4"),
    (FIVE, "Verdict: [[4]]\n\nThe answer is right; the verdict above stands: [[4]].", "4"),
    (FIVE, "答案正确，但解释有一处错误。\nVerdict: ［［４］］", "4"),  # full-width brackets and digit
    (PASS_FAIL, "The reply says 7, the reference says 7.\nVerdict: [[PASS]]", "PASS"),
    (PASS_FAIL, "The reply answers 32; the reference is 42.\nVerdict: [[fail]]", "FAIL"),
]
UNPARSED = [
    # bundled: a single bracket around a letter
    (PASS_FAIL, "Verdict: [C] China", "no verdict"),
    # bundled, judging a reply that never gives 81: a single-bracketed PASS would have passed it
    (PASS_FAIL, "Verdict: [PASS]\n\nThe answer meets all the criteria of the reference answer, and it is also "
                "a perfect example of the reference answer.", "no verdict"),
    # bundled: the placeholder, single-bracketed
    (FIVE, "Verdict: [N]\n\nThe answer is correct, and it meets all the criteria.", "no verdict"),
    # bundled: a verdict word in free text is never read
    (PASS_FAIL, "The answer meets all the criteria of the question.\n\nThe answer is C. United States.\n\n"
                "The answer is FAIL.\n\nThe answer is FAIL.", "no verdict"),
    # bundled: reasoning only
    (FIVE, "The answer to the question \"Is ice hot?\" is no.", "no verdict"),
    # larger-judge shapes that must not be guessed
    (FIVE, "Verdict: [[N]]", "[[N]] is not a verdict (expected one of 1, 2, 3, 4, 5)"),
    (FIVE, "A solid answer.\nVerdict: [[4.5]]", "[[4.5]] is not a verdict"),
    (FIVE, "Verdict: [[6]]", "[[6]] is not a verdict"),
    (FIVE, "Verdict: [[4/5]]", "[[4/5]] is not a verdict"),
    (FIVE, "A score of [[5]] needs a complete answer; this one misses a step.\nVerdict: [[3]]",
     "conflicting verdicts [[5]] and [[3]]"),
    (PASS_FAIL, "Verdict: [[PASS]]\nor\nVerdict: [[FAIL]]", "conflicting verdicts [[PASS]] and [[FAIL]]"),
    (PASS_FAIL, "Verdict: [[PASS or FAIL]]", "[[PASS or FAIL]] is not a verdict"),
    (PASS_FAIL, "I'd say it passes. Rating: [5]", "no verdict"),
    (FIVE, "[[The answer is correct but it could be clearer about the units]]\nVerdict: [[4]]",
     "[[The answer is correct but it could be clearer about the units]] is not a verdict"),
    (PASS_FAIL, "", "no verdict"),
]


@pytest.mark.parametrize(("rubric", "reply", "value"), READ)
def test_reads_one_verdict(rubric: Rubric, reply: str, value: str) -> None:
    assert parse_verdict(reply, rubric) == Verdict(value)


@pytest.mark.parametrize(("rubric", "reply", "problem"), UNPARSED)
def test_never_guesses(rubric: Rubric, reply: str, problem: str) -> None:
    verdict = parse_verdict(reply, rubric)
    assert not verdict.parsed and verdict.value is None
    assert verdict.problem is not None and verdict.problem.startswith(problem)


def test_the_prompt_holds_everything_the_judge_needs() -> None:
    rubric = Rubric(criteria=("The answer is correct.",), scale=5, levels={"3": "right but with a mistake"})
    system, user = judge_messages(rubric, "What is the capital of France?", "The capital is Paris.", reference="Paris")
    assert system == {"role": "system", "content": JUDGE_SYSTEM}
    text = user["content"]
    for part in ("[Question]\nWhat is the capital of France?", "[Reference answer]\nParis",
                 "[Answer to grade]\nThe capital is Paris.", "- The answer is correct.",
                 "- 1: it meets none of the criteria", "- 3: right but with a mistake",
                 "- 5: it fully meets every criterion", "compares with the reference answer"):
        assert part in text
    assert text.index("First explain") < text.index("Verdict: [[N]]")  # reasoning first, the verdict last
    assert text.rstrip().endswith("where N is the whole number from 1 to 5.")


def test_without_a_reference_nothing_mentions_one() -> None:
    _, user = judge_messages(Rubric(criteria=("The summary is faithful.",)), "Summarise the memo.", "")
    assert "eference" not in user["content"] and "[Answer to grade]\n(empty)" in user["content"]
    assert "- PASS: the answer meets every criterion" in user["content"]


def test_the_same_inputs_give_the_same_prompt() -> None:
    """The prompt goes into the suite version: it must not vary between runs or processes."""
    assert judge_messages(FIVE, "q", "r", "ref") == judge_messages(FIVE, "q", "r", "ref")


# ---- pairwise ---------------------------------------------------------------------------------

def test_pairwise_prompt_shows_both_answers_in_the_order_given() -> None:
    _, user = pairwise_messages("Which ocean is largest?", "The Pacific.", "The Atlantic.", reference="Pacific")
    text = user["content"]
    assert text.index("[Answer A]\nThe Pacific.") < text.index("[Answer B]\nThe Atlantic.")
    assert "Verdict: [[TIE]]" in text and "- The answer is correct." in text
    _, swapped = pairwise_messages("Which ocean is largest?", "The Atlantic.", "The Pacific.", reference="Pacific")
    assert swapped["content"].index("[Answer A]\nThe Atlantic.") < swapped["content"].index("[Answer B]\nThe Pacific.")


@pytest.mark.parametrize(("reply", "value"), [
    ("Answer A names the right ocean; B does not.\nVerdict: [[A]]", "A"),
    ("Both are correct and equally clear.\nVerdict: [[tie]]", "TIE"),
    ("**Verdict: [[B]]**", "B"),
    ("Verdict: [[C]]", None),  # MT-Bench's tie letter is not ours: unparsed, not a tie
    ("Verdict: [[A]] ... on reflection, Verdict: [[B]]", None),
    ("Assistant A is better.", None),
])
def test_reads_a_preference(reply: str, value: str | None) -> None:
    assert parse_preference(reply).value == value


@pytest.mark.parametrize(("new_first", "new_second", "outcome"), [
    ("A", "B", "win"),       # this run's reply preferred in both positions
    ("B", "A", "loss"),      # the baseline's preferred in both
    ("TIE", "TIE", "tie"),
    ("A", "A", "tie"),       # the judge preferred whatever came first: position, not quality
    ("B", "B", "tie"),
    ("A", "TIE", "tie"),     # a win in one order only is not a win
    ("TIE", "A", "tie"),
    ("A", None, "unparsed"),
    (None, "B", "unparsed"),
])
def test_a_win_needs_both_orders(new_first: str | None, new_second: str | None, outcome: str) -> None:
    assert combine_orders(Verdict(new_first), Verdict(new_second)) == outcome


# ---- rubric -----------------------------------------------------------------------------------

def test_rubric_round_trips_through_its_record() -> None:
    for record in ({"criteria": ["Correct.", "Polite."], "scale": 5, "levels": {1: "wrong", 5: "perfect"}},
                   {"criteria": ["Correct."], "scale": "pass_fail", "levels": {"fail": "any factual error"}}):
        rubric = Rubric.from_record(record)
        assert rubric.to_record() == record
        assert Rubric.from_record(rubric.to_record()) == rubric


def test_rubric_defaults_to_pass_fail_and_scores_on_zero_to_one() -> None:
    rubric = Rubric.from_record({"criteria": "  The answer   is correct. "})
    assert rubric.scale is None and rubric.criteria == ("The answer is correct.",) and rubric.values == ("PASS", "FAIL")
    assert (rubric.score("PASS"), rubric.score("FAIL")) == (1.0, 0.0)
    assert [FIVE.score(v) for v in FIVE.values] == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(("record", "message"), [
    ("correct", "s.llmeval.yaml: rubric: expected a mapping with criteria and scale"),
    ({"criteria": ["x"], "scale": 1}, "s.llmeval.yaml: rubric.scale: expected pass_fail or a whole number from 2 to 10 (a 1..N scale), got 1"),
    ({"criteria": ["x"], "scale": "1-5"}, "rubric.scale: expected pass_fail or a whole number from 2 to 10"),
    ({"criteria": ["x"], "scale": True}, "rubric.scale: expected pass_fail or a whole number"),
    ({"criteria": [], "scale": 5}, "rubric.criteria: expected one criterion or a list of them, each a non-empty string"),
    ({"scale": 5}, "rubric.criteria: expected one criterion"),
    ({"criteria": ["x", " "]}, "rubric.criteria: expected one criterion"),
    ({"criteria": ["x"], "scale": 5, "levels": {6: "too high"}}, "rubric.levels: 6 is not a verdict of this rubric (expected whole numbers 1 to 5)"),
    ({"criteria": ["x"], "levels": {"maybe": "?"}}, "rubric.levels: 'maybe' is not a verdict of this rubric (expected pass, fail)"),
    ({"criteria": ["x"], "levels": {"pass": ""}}, "rubric.levels.pass: expected a non-empty description"),
    ({"criteria": ["x"], "scales": 5}, "rubric.scales: unknown key (expected criteria, scale, levels)"),
])
def test_bad_rubrics_are_one_line(record: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Rubric.from_record(record, where="s.llmeval.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)
