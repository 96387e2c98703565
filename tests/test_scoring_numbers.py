"""extract_number and numbers_equal: GSM8K-style final answers, formatted every way replies format them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.scoring import extract_number, numbers_equal, read_number


@pytest.mark.parametrize(("reply", "expected"), [
    ("72", "72"), ("18.00", "18"), ("0.50", "0.5"), (".5", "0.5"), ("-3 apples", "-3"), ("x = -.5", "-0.5"),
    ("1,234.5", "1234.5"), ("So the answer is $1,000.", "1000"), ("$1,234,567.80 in total", "1234567.8"),
    ("She pays ¥20 then 30元", "30"), ("€5 and £7", "7"), ("￥88", "88"), ("50%", "50"), ("The answer is 12.", "12"),
    ("It went from 5 to -2", "-2"), ("5-3", "3"), ("COVID-19", "19"), ("1,2,3", "3"), ("1,234, 5", "5"),
    ("１２３", "123"), ("−7 degrees", "-7"), ("-0", "0"), ("123456789012345678901", "123456789012345678901"),
    ("no number", None), ("", None),
    # Markers outrank the last number.
    ("#### 72 and 5 more", "72"), ("48/2 = 24 clips in May.\n#### 1,234", "1234"), ("####72", "72"),
    ("The total is \\boxed{1,234} since 2 + 2 = 4", "1234"), ("The answer is 42. Check: 42 * 2 = 84", "42"),
    ("答案是18元，共3天", "18"), ("答案：¥20", "20"), ("Answer: -3, because 3 - 6 = -3", "-3"),
    ("The answer is 5. Wait, the answer is 6.", "6"),
    # A phrase must touch its number: otherwise the last number stands.
    ("The answer is the sum of 3 and 4, which is 7", "7"),
    # Fractions and mixed numbers are values; a date or a spaced division is not a fraction.
    ("the answer is 2/5", "0.4"), ("So she eats 3/4 of it", "0.75"), ("-1/2", "-0.5"), ("1 1/2 cups", "1.5"),
    ("2 3/4 miles", "2.75"), ("1½ cups", "1.5"), ("⅔", "0.6666666666666666666666666667"), ("1⁄4", "0.25"),
    ("\\boxed{\\frac{3}{4}}", "0.75"), ("The answer is \\dfrac{1}{8}.", "0.125"), ("#### 7/2", "3.5"),
    ("3 6/2", "3"), ("on 1/2/2024", "2024"), ("10 / 2 = 5", "5"), ("48/2 = 24 clips", "24"), ("1/0", None),
    ("1/3", "0.3333333333333333333333333333"),
])
def test_extract_number(reply, expected):
    assert extract_number(reply) == expected


def _expected(negative: bool, whole: int, fraction: str) -> str:
    """The normalised form, built by hand: trailing zeros dropped, no '-0'."""
    digits = fraction.rstrip("0")
    text = f"{whole}.{digits}" if digits else str(whole)
    return "-" + text if negative and text.strip("0.") else text


PROSE = st.text(alphabet="abcdefghijklmnopqrstuvxyz ,;:!?()的是一个问题", max_size=30)  # no digits, no 'w' (answer)


@given(
    st.booleans(), st.integers(0, 10**15), st.text(alphabet="0123456789", max_size=4),
    st.sampled_from(["{}", "${}", "{} dollars", "¥{}", "{}元", "€{}", "£{}", "￥{}", "{}%", "{}."]),
    PROSE, PROSE, st.integers(0, 999),
)
def test_extract_number_reads_the_last_number_however_it_is_formatted(negative, whole, fraction, template, before, after, earlier):
    shown = f"{whole:,}" + (f".{fraction}" if fraction else "")
    signed = template.format(shown)
    signed = "-" + signed if negative else signed
    reply = f"{earlier} {before} {signed} {after}"
    assert extract_number(reply) == _expected(negative, whole, fraction)


@given(st.integers(-10**18, 10**18), PROSE)
def test_a_gsm8k_marker_wins_over_later_numbers(value, prose):
    assert extract_number(f"{prose} #### {value:,} {prose} 999") == str(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**6, max_value=10**6))
def test_numbers_equal_ignores_formatting(value):
    normalised = extract_number(f"{value:,f}")
    assert normalised is not None and numbers_equal(normalised, f"{value:f}")
    assert numbers_equal(normalised, f"{value + 1:f}") is False


@given(st.integers(10**15, 10**20))
def test_integers_compare_exactly(value):
    assert numbers_equal(str(value), str(value)) and not numbers_equal(str(value), str(value + 1))


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("1000", "1,000", True), ("0.5", "0.50", True), ("18", "18.00", True), ("-3", "-3", True),
    ("0.3333333333", "0.33333333333", True), ("0.1", "0.1000001", False), ("1", "x", False), ("", "", False),
    ("nan", "nan", False), ("inf", "inf", False), ("10000000000000000001", "10000000000000000000", False),
])
def test_numbers_equal(a, b, equal):
    assert numbers_equal(a, b) is equal


@pytest.mark.parametrize(("reply", "rule"), [
    ("#### 72", "#### marker"), ("\\boxed{72}", "boxed"), ("The answer is 72", "answer phrase"), ("72 apples", "last number"),
    ("none", "no number"),
])
def test_read_number_names_its_rule(reply, rule):
    assert read_number(reply)[1] == rule


@given(st.integers(0, 10**6), st.integers(1, 10**6), PROSE)
def test_a_fraction_reads_as_its_value(numerator, denominator, prose):
    value = extract_number(f"{prose} the answer is {numerator}/{denominator}")
    assert value is not None and numbers_equal(value, str(Decimal(numerator) / Decimal(denominator)))


def test_normalised_numbers_are_plain_decimals():
    assert extract_number("1e3 is 1000") == "1000" and Decimal(extract_number("12.5000") or "x") == Decimal("12.5")
