"""extract_choice: real reply styles in English and Chinese, peers' known bugs, and properties."""

from __future__ import annotations

import gc
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_llmeval.samples import CHOICE_LABELS
from pytest_llmeval.scoring import Choice, extract_choice, read_choice, rules

REPLIES = [
    # The bare letter, decorated.
    ("B", "B"), ("B.", "B"), ("b", "B"), ("a", "A"), ("d", "D"), ("  C  ", "C"), ("B) Paris", "B"),
    ("B. Paris", "B"), ("b) Paris", "B"), ("A. Paris", "A"), ("(B)", "B"), ("[B]", "B"), ("**B**", "B"),
    ("`C`", "C"), ("Option C", "C"), ("B because Paris is the capital", "B"), ("B, because Paris is the capital.", "B"),
    ("C\n\nExplanation: the rest are wrong.", "C"), ("B rather than A", "B"), ("Ａ", "A"), ("（B）", "B"),
    # English answer phrases.
    ("The answer is B", "B"), ("The answer is (B).", "B"), ("the correct answer is: B", "B"), ("Answer: B", "B"),
    ("Answer: (C)", "C"), ("ANSWER: D", "D"), ("Answer:\nC", "C"), ("**Answer:** C", "C"), ("the answer is b", "B"),
    ("The answer is **C**", "C"), ("So the final answer is D.", "D"), ("The best answer is C.", "C"),
    ("The correct answer is **B) Paris**.", "B"), ("The answer is: A) Paris", "A"), ("<answer>D</answer>", "D"),
    ("The final answer is $\\boxed{B}$", "B"), ("\\boxed{C}", "C"), ("The answer is option B", "B"),
    ("I choose B", "B"), ("I would choose C.", "C"), ("I'd go with B.", "B"), ("I'd say D", "D"), ("I think A", "A"),
    ("I think it is D", "D"), ("I'm not sure, but I'd guess B", "B"), ("Option B is correct", "B"),
    ("The correct option is D", "D"), ("In conclusion, option D is the most appropriate.", "D"),
    ("(C) is the right answer.", "C"), ("The answer is A because it is the largest", "A"),
    ("Let's analyze: A) wrong. B) wrong. C) right. So C.", "C"), ("Therefore, B.", "B"),
    # The final answer after reasoning that names other letters.
    ("A is wrong. C is tempting.\nANSWER: B", "B"), ("A is wrong, B is wrong, so the answer is C", "C"),
    ("Let me think. A seems off. The answer is D", "D"), ("A lot of people think B, but the answer is C", "C"),
    ("Hmm, the answer is C? Actually, the answer is D.", "D"), ("Neither A nor B; the answer is D", "D"),
    ("The answer is C, not A", "C"), ("Not A. The answer is B.", "B"), ("The answer is not A, it is C", "C"),
    ("I would not choose A. I choose B", "B"), ("Answer: B\n\nExplanation: option A is incorrect, C is too narrow.", "B"),
    ("Final Answer: The final answer is C. I hope it is correct.", "C"), ("It's B.", "B"), ("Paris (B)", "B"),
    # Chinese.
    ("答案：B", "B"), ("答案是 B", "B"), ("答案为B", "B"), ("答案：（C）", "C"), ("正确答案是C", "C"), ("故选：D", "D"),
    ("选B", "B"), ("选项B正确", "B"), ("所以答案是（C）", "C"), ("B选项", "B"), ("我认为答案是A。", "A"),
    ("答案：Ｄ", "D"), ("根据题意，A项错误，B项错误，正确答案为C。", "C"), ("应选A", "A"), ("C. 长江", "C"),
    ("答案是：D。因为……", "D"), ("答：B", "B"), ("选择C", "C"), ("本题选D。", "D"), ("所以选 A。", "A"),
    ("C是正确的", "C"), ("C项正确", "C"), ("正确的是C", "C"), ("正确选项为B", "B"), ("选项 C", "C"),
    ("A项错误，B项错误，C项正确，故选C", "C"), ("答案应该是B，因为A和C都不对", "B"), ("答案不是A而是C", "C"),
    ("我认为是B。", "B"), ("**答案：（Ｂ）**", "B"), ("下列说法不正确的是A", "A"),
    # Peers' known failures: the first capital letter, or the first letter named.
    ("As an AI language model, I cannot answer that.", None), ("As an AI language model, I think the answer is C", "C"),
    ("I do not know.", None), ("It depends on the context.", None), ("Answer: I don't know", None),
    # The English article and pronoun are words, not options.
    ("A cat is an animal", None), ("The answer is A cat", None), ("I think a cat is here", None),
    ("It is a difficult question.", None), ("Vitamin C-rich food", None),
    # Ambiguous or ruled out: a miss, never a guess.
    ("Both A and C seem plausible", None), ("A and C", None), ("A和C都对", None), ("B is wrong.", None),
    ("A. Paris\nB. London\nC. Rome\nD. Berlin", None), ("", None), ("   ", None),
    # A letter outside the labels is never returned, even when stated explicitly.
    ("E", None), ("The answer is E", None), ("答案：E", None),
]


@pytest.mark.parametrize(("reply", "expected"), REPLIES)
def test_reply_styles(reply, expected):
    assert extract_choice(reply, "ABCD") == expected


def test_the_table_covers_enough_styles():
    assert len(REPLIES) >= 60 and len({reply for reply, _ in REPLIES}) == len(REPLIES)


@pytest.mark.parametrize(("reply", "labels", "expected"), [
    ("I", "ABCDEFGHIJ", "I"), ("The answer is I", "ABCDEFGHIJ", "I"), ("I think the answer is J", "ABCDEFGHIJ", "J"),
    ("I think so", "ABCDEFGHIJ", None), ("The answer is E", "ABCDE", "E"), ("C", "AB", None), ("Answer: B", "AB", "B"),
    ("B", "", None),
])
def test_labels_bound_the_answer(reply, labels, expected):
    assert extract_choice(reply, labels) == expected


OCEANS = ["Atlantic", "Indian", "Pacific", "Arctic"]


@pytest.mark.parametrize(("reply", "choices", "expected"), [
    ("It is the Pacific ocean.", OCEANS, "C"),
    ("Either Indian or Pacific", OCEANS, None),
    ("The capital of France is Paris.", ["London", "Paris", "Berlin", "Rome"], "B"),
    ("New York City, of course", ["New York", "New York City", "Boston"], "B"),
    ("There are 14 of them", ["4", "14", "40", "41"], "B"),
    ("长江是中国最长的河流。", ["黄河", "长江", "珠江", "淮河"], "B"),
    ("The answer is D, the Arctic", OCEANS, "D"),  # a letter outranks a quoted option
    ("B and the Pacific", OCEANS, "B"),
])
def test_option_text_quoted_without_a_letter(reply, choices, expected):
    assert extract_choice(reply, "ABCD", choices) == expected


CAPITALS = ["Paris", "London", "Berlin", "Oslo"]
ECHO = "A. Paris\nB. London\nC. Berlin\nD. Oslo"


@pytest.mark.parametrize(("reply", "expected", "rule"), [
    # The echoed option list is set aside, whole or cut off; the answer outside it counts.
    (ECHO, None, "echoed options"), ("A. Paris\nB. Lon", None, "echoed options"), ("A. Paris\nB", None, "echoed options"),
    (ECHO + "\n\nD. Oslo", "D", "restated option"), ("D. Oslo\n\n" + ECHO + "\n\nThe capital is nice.", "D", "restated option"),
    ("D. Oslo\n\n" + ECHO + "\n\nD. Oslo", "D", "restated option"), (ECHO + "\nThe answer is D.", "D", "answer phrase"),
    ("A. Rome\nB. Madrid\nC. Lisbon", None, "echoed options"),  # a list it made up is a list too
    ("- The answer is A. Paris\n- The answer is B. London\n- The answer is C. Berlin\nThe answer is C.", "C", "answer phrase"),
    # A letter restated with its own option's text, then rambling or other letters.
    ("B. London\n\nA lot of people live there; A and C are bigger.", "B", "restated option"),
    ("D. Oslo is the capital of Norway.", "D", "restated option"),
    # ... or with another option's text: the letter and the text disagree.
    ("A. Oslo", None, "conflicting answers"), ("A. Oslo\n\nThe answer is D.", "D", "answer phrase"),
    ("A. Paris\n\nA. Oslo", None, "conflicting answers"),
    # Conclusions must agree; a hedge or a correction says which one counts.
    ("B. London\n\nThe answer is D.", None, "conflicting answers"), ("The answer is B. The answer is B.", "B", "answer phrase"),
    ("The answer is C? Actually, the answer is D.", "D", "answer phrase"), ("A\n\nThe correct answer is C.", None, "conflicting answers"),
    # Chinese and English conclusion markers.
    ("所以选出选项：D.", "D", "answer phrase"), ("所以D. Oslo", "D", "answer phrase"), ("结果：D", "D", "answer phrase"),
    ("最后：D", "D", "answer phrase"), ("选出选项：A. Paris", "A", "answer phrase"), ("因此，C。", "C", "answer phrase"),
    ("So, D. Oslo", "D", "answer phrase"), ("Result: D", "D", "answer phrase"), ("In conclusion, B.", "B", "answer phrase"),
    # A letter outside the choices is never an answer.
    ("The answer is X.", None, "outside the choices"), ("E. Rome", None, "no answer"), ("The answer is E", None, "outside the choices"),
    ("The correct answer is D.\nThe answer is E.", None, "conflicting answers"),
    # Words and names are not letters; a ruled-out option is not an answer.
    ("A 15-year-old is brought in.", None, "no answer"), ("The answer is A. J. P. Taylor's book.", None, "no answer"),
    ("A. Paris is not a valid answer. Oslo is.", "D", "option text"), ("It is the Britain's capital, Londn.", None, "no answer"),
    ("Osloo", "D", "option text"),  # no letter: the first line copies one option with a slip
])
def test_real_reply_families(reply, expected, rule):
    assert read_choice(reply, "ABCD", CAPITALS) == Choice(expected, rule)


def test_a_model_looping_on_the_list_is_cut_off_not_answering():
    looping = ECHO + "\n" + ECHO + "\nA. Par"
    assert read_choice(looping, "ABCD", CAPITALS) == Choice(None, "echoed options")
    assert read_choice(ECHO + "\n\nA. Paris", "ABCD", CAPITALS) == Choice("A", "restated option")  # once: an answer


TEMPLATES = [
    "The answer is {}", "The answer is ({}).", "the correct answer is: {}", "Answer: {}", "ANSWER: {}",
    "So the final answer is **{}**", "I choose {}", "I think {}", "Option {} is correct", "Therefore, {}.",
    "The final answer is $\\boxed{{{}}}$", "答案：{}", "答案是 {}", "答案为{}", "正确答案是{}", "故选：{}", "选{}",
    "选项{}正确", "所以答案是（{}）", "{}选项。", "答案：**{}**",
]
# Reasoning text with no capital A-J and no answer phrase: digits, lower case, K-Z, punctuation, safe CJK.
PREAMBLE = st.text(alphabet="abcdefghijklmnopqrstuvwxyzKLMNOPQRSTUVWXYZ0123456789 ,;:!?.()\n的是一个问题我们考虑因为所以", max_size=80)


@given(st.sampled_from(CHOICE_LABELS[:10]), st.sampled_from(TEMPLATES), PREAMBLE)
def test_an_answer_phrase_after_any_reasoning_is_found(label, template, preamble):
    # Reasoning that commits to nothing by itself: one that does ("so k.") conflicts, never a guess.
    assume(read_choice(preamble, CHOICE_LABELS[:10]).rule == rules.NO_ANSWER)
    assert extract_choice(f"{preamble}\n{template.format(label)}", CHOICE_LABELS[:10]) == label


@given(st.data(), st.sampled_from(TEMPLATES[:5] + TEMPLATES[11:16]))
def test_letters_ruled_out_before_the_answer_never_win(data, template):
    labels = "ABCD"
    answer = data.draw(st.sampled_from(labels))
    wrong = data.draw(st.lists(st.sampled_from(labels.replace(answer, "")), min_size=1, max_size=3, unique=True))
    reasoning = " ".join(f"{letter} is wrong." for letter in wrong)
    assert extract_choice(f"{reasoning} {template.format(answer)}", labels) == answer


@given(st.text(max_size=200), st.sampled_from(["AB", "ABCD", "ABCDEFGHIJ", "BCD"]))
def test_never_returns_a_letter_outside_the_labels(text, labels):
    assert extract_choice(text, labels) in (None, *labels)


LETTERY = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdei .,:;()*\n答案选项是正确错不故为", max_size=120)


@given(LETTERY, st.sampled_from(["AB", "ABCD", "ABCDEFGHIJ", "CD"]))
def test_never_returns_a_letter_outside_the_labels_on_letter_heavy_text(text, labels):
    assert extract_choice(text, labels, ["x", "y"]) in (None, *labels)


@pytest.mark.parametrize("reply", [
    "answer option" + " " * 20000 + "x", ("answer option" + "(:" * 2000) * 10, "A" + " \t" * 10000 + "is",
    "A" + "):" * 10000 + "x", "A," * 10000, "答案" * 5000, "B" + "选项" * 5000, "I think " * 5000,
    "A. x\nB. y\n" * 3000, "The answer is A. " * 3000, "A\n" * 10000, "选择：A\n\n" * 5000, "A. " + "x " * 10000,
])
def test_adversarial_replies_stay_fast(reply):
    """Linear, not quadratic: each takes about 0.1 s of CPU. Counted in this thread's CPU time,
    which neighbours on a loaded machine do not inflate as they do wall time (1.6 s seen), nor
    other threads of the same xdist worker as they do the process's CPU time (1.5 s seen in CI,
    with a previous test's engine or execution threads still winding down). The collector is paused
    for the call: in a single-process CI run the heap holds some 1,800 tests' leftovers, and a full
    collection that this reply's allocations happen to trigger walks all of it in this thread
    (1.01 s of thread CPU seen for ``"A\n" * 10000``, which takes 0.1 s)."""
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()
        extract_choice(reply, CHOICE_LABELS[:10], ["x"])
        spent = time.thread_time() - started
    finally:
        gc.enable()
    assert spent < 1.0
