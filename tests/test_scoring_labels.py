"""normalize_choice_target and pick_by_loglikelihood: gold answers and log-likelihoods as option labels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.samples import CHOICE_LABELS
from pytest_llmeval.scoring import normalize_choice_target, pick_by_loglikelihood

OPTION_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz 巴黎伦敦", min_size=2, max_size=12).filter(lambda s: s.strip() and len(s.strip()) > 1)


@given(st.lists(OPTION_TEXT, min_size=2, max_size=10, unique_by=lambda s: " ".join(s.split())), st.data())
def test_every_form_of_a_gold_answer_becomes_its_label(choices, data):
    labels = CHOICE_LABELS[: len(choices)]
    index = data.draw(st.integers(0, len(choices) - 1))
    label = labels[index]
    forms = [label, label.lower(), f" {label} ", f"{label}.", f"({label})", f"{label})", str(index), choices[index]]
    for form in forms:
        assert normalize_choice_target(form, choices, labels) == label


@pytest.mark.parametrize(("target", "choices", "expected"), [
    ("b", ["x", "y"], "B"), (" B ", ["x", "y"], "B"), ("B.", ["x", "y"], "B"), ("1", ["x", "y"], "B"),
    ("Paris", ["London", "Paris"], "B"), ("  paris ", ["London", "Paris"], "B"), ("（B）", ["x", "y"], "B"),
    ("1", ["1", "2", "3"], "B"),  # a digit is an index first: the letter form is the unambiguous one
    ("3", ["1", "2", "3"], "C"),  # not an index below 3, so the option text
])
def test_normalize_choice_target(target, choices, expected):
    assert normalize_choice_target(target, choices, CHOICE_LABELS[: len(choices)]) == expected


@pytest.mark.parametrize(("target", "choices"), [
    ("Z", ["a", "b"]), ("2", ["a", "b"]), ("Rome", ["London", "Paris"]), ("same", ["same", "same"]), ("", ["a", "b"]),
    ("line one\nline two", ["a", "b"]), ("x" * 500, ["a", "b"]),
])
def test_an_unreadable_gold_answer_is_a_one_line_value_error(target, choices):
    with pytest.raises(ValueError) as info:
        normalize_choice_target(target, choices, CHOICE_LABELS[: len(choices)])
    message = str(info.value)
    assert "\n" not in message and len(message) < 200 and "A-B" in message


LOGPROBS = st.lists(st.sampled_from([-3.0, -2.5, -1.0, -0.5, 0.0]) | st.floats(-100, 0, allow_nan=False), min_size=1, max_size=10)


@given(LOGPROBS)
def test_pick_by_loglikelihood_is_argmax_with_first_tie(logprobs):
    labels = CHOICE_LABELS[: len(logprobs)]
    best = max(logprobs)
    assert pick_by_loglikelihood(logprobs, labels) == labels[logprobs.index(best)]


def test_pick_by_loglikelihood_edges():
    assert pick_by_loglikelihood([-1.0, -1.0, -2.0], "ABC") == "A"
    assert pick_by_loglikelihood([math.nan, -5.0], "AB") == "B"
    assert pick_by_loglikelihood([-math.inf, -math.inf], "AB") == "A"
    with pytest.raises(ValueError, match="3 log-likelihoods for 4 options"):
        pick_by_loglikelihood([-1.0, -2.0, -3.0], "ABCD")
    with pytest.raises(ValueError):
        pick_by_loglikelihood([], "")
