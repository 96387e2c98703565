"""score_reply for every task, the scoring: options and their validation, and the package's exports."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import pytest_llmeval.scoring as scoring
from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring import SCORING_OPTIONS, TASKS, Scored, score_reply, validate_options

CAPITALS = ["London", "Paris", "Berlin", "Rome"]


@pytest.mark.parametrize(("task", "reply", "target", "options", "expected"), [
    # multiple_choice: the extracted letter against the gold answer in any accepted form.
    ("multiple_choice", "答案：C", "C", {}, Scored("C", True, "answer phrase")),
    ("multiple_choice", "The answer is B", "b.", {}, Scored("B", True, "answer phrase")),
    ("multiple_choice", "The answer is B", "1", {}, Scored("B", True, "answer phrase")),
    ("multiple_choice", "It must be Paris", "Paris", {}, Scored("B", True, "option text")),
    ("multiple_choice", "As an AI language model, I cannot say", "A", {}, Scored(None, False, "no answer")),
    ("multiple_choice", "A is wrong, the answer is C", "A", {}, Scored("C", False, "answer phrase")),
    # numeric: both sides normalised, compared as numbers.
    ("numeric", "so $1,234", "#### 1,234", {}, Scored("1234", True, "last number")),
    ("numeric", "She has 18.00 dollars.", "18", {}, Scored("18", True, "last number")),
    ("numeric", "The answer is 42. Check: 42*2 = 84", "42", {}, Scored("42", True, "answer phrase")),
    ("numeric", "I don't know", "7", {}, Scored(None, False, "no number")),
    ("numeric", "0.3333333333", "0.33333333333", {}, Scored("0.3333333333", True, "last number")),
    ("numeric", "So she needs 2/5 of the cake", "0.4", {}, Scored("0.4", True, "last number")),
    ("numeric", "#### 1 1/2", "1.5", {}, Scored("1.5", True, "#### marker")),
    # exact_match: surrounding whitespace stripped; case and punctuation count unless told otherwise.
    ("exact_match", " Paris \n", "Paris", {}, Scored("Paris", True)),
    ("exact_match", "paris", "Paris", {}, Scored("paris", False)),
    ("exact_match", "paris.", "Paris", {"ignore_case": True, "ignore_punctuation": True}, Scored("paris", True)),
    ("exact_match", "New York , NY", "New York NY", {"ignore_punctuation": True}, Scored("New York NY", True)),
    ("exact_match", " Paris", "Paris", {"strip": False}, Scored(" Paris", False)),
    ("exact_match", "是的。", "是的", {"ignore_punctuation": True}, Scored("是的", True)),
    # contains: case ignored by default.
    ("contains", "It is PARIS, of course", "Paris", {}, Scored("it is paris, of course", True)),
    ("contains", "It is PARIS", "Paris", {"ignore_case": False}, Scored("It is PARIS", False)),
    ("contains", "anything", "", {}, Scored("anything", False)),
    # regex: the first match; its first group, else the whole match; then exact_match rules.
    ("regex", "Final: Rome!", "rome", {"pattern": r"Final: (\w+)", "ignore_case": True}, Scored("rome", True, "pattern")),
    ("regex", "Final: Rome!", "Rome", {"pattern": r"Final: \w+"}, Scored("Final: Rome", False, "pattern")),
    ("regex", "Final: Rome\nFinal: Oslo", "Rome", {"pattern": r"^Final: (\w+)$"}, Scored("Rome", True, "pattern")),
    ("regex", "Answer:\nOslo", "Oslo", {"pattern": r"Answer:.(\w+)"}, Scored("Oslo", True, "pattern")),
    ("regex", "city Paris", "Paris", {"pattern": r"(town )?Paris"}, Scored("Paris", True, "pattern")),
    ("regex", "nothing", "rome", {"pattern": r"Final: (\w+)"}, Scored(None, False, "no match")),
])
def test_score_reply(task, reply, target, options, expected):
    assert score_reply(task, reply, target, labels="ABCD", choices=CAPITALS, options=options) == expected


def test_score_reply_defaults_to_four_labels_and_no_options():
    assert score_reply("multiple_choice", "D", "D") == Scored("D", True, "opening letter")
    assert score_reply("exact_match", "x", "x") == Scored("x", True)


@pytest.mark.parametrize(("task", "target"), [("multiple_choice", "Z"), ("numeric", "no number here")])
def test_an_unreadable_gold_answer_raises_rather_than_scoring_a_miss(task, target):
    with pytest.raises(ValueError):
        score_reply(task, "A", target)


@pytest.mark.parametrize(("task", "options", "key"), [
    ("exact_match", {"ignorecase": True}, "scoring.ignorecase"),
    ("regex", {}, "scoring.pattern"),
    ("regex", {"pattern": ""}, "scoring.pattern"),
    ("regex", {"pattern": 42}, "scoring.pattern"),
    ("regex", {"pattern": "("}, "scoring.pattern"),
    ("regex", {"pattern": "(?x)\n(unclosed"}, "scoring.pattern"),
    ("contains", {"ignore_case": "yes"}, "scoring.ignore_case"),
    ("exact_match", {"strip": 1}, "scoring.strip"),
    ("exact_match", {"pattern": "x"}, "scoring.pattern"),
    ("numeric", {"ignore_case": True}, "scoring.ignore_case"),
    ("multiple_choice", {"ignore_punctuation": True}, "scoring.ignore_punctuation"),
    ("exact_match", {"bad\nkey": True}, "scoring."),
    ("mc", {}, "task"),
])
def test_bad_scoring_options_are_one_line_naming_the_key(task, options, key):
    with pytest.raises(ConfigError) as info:
        validate_options(task, options)
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message and info.value.key is not None


def test_score_reply_validates_its_options():
    with pytest.raises(ConfigError, match="scoring.pattern"):
        score_reply("regex", "x", "x")


@pytest.mark.parametrize("task", [t for t in TASKS if t not in ("regex", "rouge", "bleu", "chrf", "judge")])
def test_every_task_but_regex_and_the_graded_ones_accepts_no_options(task):
    validate_options(task, {})


@pytest.mark.parametrize("task", ["rouge", "bleu", "chrf"])
def test_a_graded_task_needs_pass_at(task):
    with pytest.raises(ConfigError, match="^scoring.pass_at: task .* needs the score from which a sample passes"):
        validate_options(task, {})


def test_option_names_and_tasks():
    assert SCORING_OPTIONS == {"ignore_case", "ignore_punctuation", "strip", "pattern", "timeout_s", "memory_mb",
                               "pass_at", "rouge", "tokenize", "use_stemmer", "judge", "rubric", "metric",
                               "mutual_info"}
    assert TASKS == ("multiple_choice", "exact_match", "contains", "regex", "numeric", "json_match", "code", "rouge",
                     "bleu", "chrf", "judge")
    validate_options("regex", {"pattern": r"(\w+)", "ignore_case": True, "ignore_punctuation": False, "strip": True})


def test_scored_is_a_frozen_value():
    scored = Scored("A", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scored.correct = False  # type: ignore[misc]
    assert not hasattr(scored, "__dict__")


def test_exports_are_sorted_and_complete():
    assert scoring.__all__ == sorted(scoring.__all__)
    assert set(scoring.__all__) == {
        "Choice", "ClozePicks", "SCORING_OPTIONS", "Scored", "TASKS", "check_program", "cloze_continuations",
        "cloze_picks", "code_from_reply", "extract_choice", "extract_number", "mean_pass_at_k",
        "normalize_choice_target", "numbers_equal", "pass_at_k", "pick_by_loglikelihood", "read_choice",
        "read_number", "rules", "score_reply", "truthfulqa_mc1", "truthfulqa_mc2", "validate_options",
    }
    assert all(hasattr(scoring, name) for name in scoring.__all__)


def test_a_registered_task_reads_the_samples_other_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam a code or judge task uses: its scorer gets the row's columns, not only the answer."""
    from types import MappingProxyType

    from pytest_llmeval.scoring import options as options_module
    from pytest_llmeval.scoring import score as score_module
    from pytest_llmeval.scoring import tasks

    def by_length(reply: str, gold: Any, options: Any) -> Scored:
        return Scored(reply, len(reply) == gold.fields["length"])

    registry = MappingProxyType({**tasks.REGISTRY, "length": tasks.Task("length", by_length)})
    for module in (tasks, options_module, score_module):
        monkeypatch.setattr(module, "REGISTRY", registry)
    assert score_reply("length", "four", "-", fields={"length": 4}).correct
    assert not score_reply("length", "five!", "-", fields={"length": 4}).correct
