"""Cloze picks and TruthfulQA MC1/MC2, against lm-evaluation-harness's own expressions.

lm-eval is not a test dependency, so its lines (``ConfigurableTask.process_results`` and
``truthfulqa/utils.py:process_results_mc2``, lm-eval 0.4.13) are written out with numpy below and
the functions are checked against them on arbitrary inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.scoring import cloze
from pytest_llmeval.scoring.cloze import ClozePicks, cloze_continuations, cloze_picks, truthfulqa_mc1, truthfulqa_mc2

LOGPROB = st.floats(min_value=-200.0, max_value=0.0, allow_nan=False)
TEXT = st.text(alphabet=st.sampled_from("ab ¬∨≡é中"), min_size=1, max_size=12)


def _lm_eval_picks(lls: list[float], choices: list[str], unconditional: list[float]) -> tuple[int, ...]:
    """lm-eval's pred, pred_norm, pred_byte and the mutual-information argmax."""
    lls_array = np.array(lls)
    completion_len = np.array([float(len(i)) for i in choices])
    byte_length = np.array([float(len(i.encode("utf-8"))) for i in choices])
    mutual = [c - u for c, u in zip(lls, unconditional)]
    return (int(np.argmax(lls_array)), int(np.argmax(lls_array / completion_len)),
            int(np.argmax(lls_array / byte_length)), int(np.argmax(mutual)))


def _lm_eval_mc2(lls: list[float], labels: list[int]) -> float:
    probs = np.exp(np.array(lls))
    probs_norm = probs / np.sum(probs)
    return float(np.sum(probs_norm[np.array(labels) == 1]))


def test_an_option_is_scored_as_the_delimiter_then_its_text_unstripped():
    assert cloze_continuations(["Paris", "  5", "¬P"]) == (" Paris", "   5", " ¬P")
    assert cloze_continuations(["北京"], delimiter="") == ("北京",)
    assert cloze.TARGET_DELIMITER == " "


def test_each_rule_picks_its_own_option():
    # "x": 1 character, 1 byte; "long text": 9 and 9; "∨∨∨": 3 characters, 9 bytes
    picks = cloze_picks([-2.0, -4.0, -3.0], ["x", "long text", "∨∨∨"], unconditional=[-1.0, -1.5, -2.5])
    assert picks == ClozePicks(acc=0, acc_norm=1, acc_bytes=2, acc_mutual_info=2)


def test_acc_norm_divides_by_the_characters_of_the_text_without_the_delimiter():
    # per character: -1.0 against -0.967, so "abc"; counting the delimiter it would be " ab" (-0.667 > -0.725)
    assert cloze_picks([-2.0, -2.9], ["ab", "abc"]).acc_norm == 1


def test_ties_go_to_the_first_option_and_nan_is_impossible():
    assert cloze_picks([-1.0, -1.0], ["a", "b"]) == ClozePicks(0, 0, 0)
    assert cloze_picks([math.nan, -5.0], ["a", "b"]) == ClozePicks(1, 1, 1)
    assert cloze_picks([-1.0, -1.0], ["a", "b"], unconditional=[-0.5, -0.5]).acc_mutual_info == 0


def test_an_empty_option_never_wins_a_normalised_pick():
    assert cloze_picks([-0.1, -9.0], ["", "b"]) == ClozePicks(acc=0, acc_norm=1, acc_bytes=1)


def test_without_unconditional_log_likelihoods_there_is_no_mutual_information_pick():
    assert cloze_picks([-1.0, -2.0], ["a", "b"]).acc_mutual_info is None


@pytest.mark.parametrize(("call", "message"), [
    (lambda: cloze_picks([-1.0], ["a", "b"]), "^1 log-likelihoods for 2 options$"),
    (lambda: cloze_picks([-1.0, -2.0], ["a", "b"], [-1.0]), "^1 unconditional log-likelihoods for 2 options$"),
    (lambda: cloze_picks([], []), "^no options to choose from$"),
    (lambda: truthfulqa_mc1([-1.0, -2.0], [1, 1]), r"^MC1 needs exactly one true answer, got labels \[1, 1\]$"),
    (lambda: truthfulqa_mc2([-math.inf, math.nan], [1, 0]), "^MC2 needs at least one option with a non-zero"),
    (lambda: truthfulqa_mc2([-1.0], [1, 0]), "^1 log-likelihoods for 2 options$"),
])
def test_inconsistent_inputs_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@given(st.lists(st.tuples(LOGPROB, TEXT, LOGPROB), min_size=1, max_size=8))
def test_picks_are_lm_evals_on_any_input(options):
    lls, choices, unconditional = (list(column) for column in zip(*options))
    picks = cloze_picks(lls, choices, unconditional)
    assert (picks.acc, picks.acc_norm, picks.acc_bytes, picks.acc_mutual_info) == _lm_eval_picks(
        lls, choices, unconditional)


def test_mc1_is_right_when_the_true_answer_is_likeliest_and_on_a_tie_listed_first():
    assert truthfulqa_mc1([-3.0, -4.0, -5.0], [1, 0, 0])
    assert not truthfulqa_mc1([-3.0, -2.0, -5.0], [1, 0, 0])
    assert truthfulqa_mc1([-3.0, -3.0], [1, 0])  # lm-eval: argmax is 0, the gold index
    assert not truthfulqa_mc1([-3.0, -3.0], [0, 1])


def test_mc2_is_the_normalised_probability_of_the_true_answers():
    assert truthfulqa_mc2([math.log(0.5), math.log(0.25), math.log(0.25)], [1, 0, 1]) == pytest.approx(0.75)
    assert truthfulqa_mc2([-1.0, -math.inf], [0, 1]) == 0.0


@given(st.lists(st.tuples(LOGPROB, st.sampled_from([0, 1])), min_size=2, max_size=24))
def test_mc2_is_lm_evals_on_any_input(options):
    lls, labels = (list(column) for column in zip(*options))
    assert truthfulqa_mc2(lls, labels) == pytest.approx(_lm_eval_mc2(lls, labels), abs=1e-12)


def test_mc2_holds_where_exponentiating_the_raw_values_underflows():
    lls = [-2000.0, -2001.0, -2003.0]
    with np.errstate(invalid="ignore", under="ignore"):
        assert math.isnan(_lm_eval_mc2(lls, [1, 0, 0]))
    assert truthfulqa_mc2(lls, [1, 0, 0]) == pytest.approx(_lm_eval_mc2([0.0, -1.0, -3.0], [1, 0, 0]))


def test_cloze_scores_name_each_rules_pick_and_whether_it_is_right():
    from pytest_llmeval.scoring.cloze import cloze_scores

    # "a" is likeliest in sum, "ccc" per character; mutual information prefers "bb"
    found = cloze_scores([-3.0, -5.0, -4.5], ["a", "bb", "ccc"], "ABC", "C", unconditional=[-1.0, -8.0, -3.0])
    assert found.picks == {"acc": "A", "acc_norm": "C", "acc_bytes": "C", "acc_mutual_info": "B"}
    assert found.metrics == {"acc": 0.0, "acc_norm": 1.0, "acc_bytes": 1.0, "acc_mutual_info": 0.0}
    assert "acc_mutual_info" not in cloze_scores([-1.0, -2.0], ["x", "y"], "AB", "A").picks


@pytest.mark.parametrize("options, key, message", [
    ({"metric": "accuracy"}, "scoring.metric", "expected one of acc, acc_norm"),
    ({"mutual_info": "yes"}, "scoring.mutual_info", "expected true or false"),
    ({"metric": "acc_mutual_info", "mutual_info": False}, "scoring.mutual_info", "needs the unconditional request"),
])
def test_cloze_options_are_checked_with_one_line(options, key, message):
    from pytest_llmeval.errors import ConfigError
    from pytest_llmeval.scoring.cloze import check_cloze_options

    with pytest.raises(ConfigError, match=message) as info:
        check_cloze_options(options)
    assert info.value.key == key and "\n" not in str(info.value)


def test_the_default_metric_and_when_mutual_information_is_asked():
    from pytest_llmeval.scoring.cloze import cloze_metric, wants_mutual_info

    assert cloze_metric({}) == "acc_norm" and not wants_mutual_info({})
    assert wants_mutual_info({"metric": "acc_mutual_info"}) and wants_mutual_info({"mutual_info": True})
