"""The final number of a reply (GSM8K-style answers), and comparing two numbers.

Precedence, strongest first: the first number after the last ``####`` (GSM8K's answer marker);
the first number in the last ``\\boxed{...}``; a number directly after the last "answer is" /
"Answer:" / "答案是"; otherwise the last number in the reply. A phrase must touch its number, so
"the answer is the sum of 3 and 4, which is 7" still reads 7. Fractions and scientific notation
are not evaluated ("3/4" reads as 4).

Numbers are kept as decimal strings, never floats, so "123456789012345678" survives exactly.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .text import fold_width

__all__ = ["extract_number", "numbers_equal"]

_CURRENCY = re.compile(r"[$¥€£￥元%]")
# "1,234.5", "-3", ".5", "18." (the dot is a full stop). A minus sign counts only where it cannot
# be a hyphen or a subtraction ("5-3" is 5 and 3; "x = -3" is -3).
_NUMBER = re.compile(
    r"(?:(?<![\w.])-)?"
    r"(?:(?<![\d.])\d{1,3}(?:,\d{3})+(?!\d|,\d)|(?<![\d.])\d+|(?<![\w.])(?=\.\d))"
    r"(?:\.\d+)?"
)
_ANSWER_PHRASE = re.compile(
    r"(?:\banswer\b(?:\s+is)?|答案(?:是|为|應該是|应该是|应为)?|结果(?:是|为))"
    r"[\s:=*$¥€£￥\\{]*(?=[-.\d])",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def _normalise(raw: str) -> str | None:
    """"1,234.50" -> "1234.5", "18.00" -> "18", "-0" -> "0"; None for something that is not a number."""
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _numbers(text: str) -> list[str]:
    return [n for n in (_normalise(m.group(0)) for m in _NUMBER.finditer(_CURRENCY.sub("", text))) if n is not None]


def _marked(text: str) -> str | None:
    """The number a marker points at: "#### 72", "\\boxed{72}", "The answer is 72"."""
    if "####" in text:
        after = _numbers(text.rsplit("####", 1)[1])
        if after:
            return after[0]
    boxed = _BOXED.findall(text)
    if boxed and _numbers(boxed[-1]):
        return _numbers(boxed[-1])[0]
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if phrases:
        return next(iter(_numbers(text[phrases[-1].end() :])), None)
    return None


def extract_number(text: str) -> str | None:
    """The reply's final answer number, normalised, or None when it has no number.

    Thousands commas, currency signs ($ ¥ € £ ￥ 元), '%' and a trailing '.' are dropped:
    '$1,234.50' -> '1234.5', '18.00' -> '18'; a leading minus is kept.
    """
    folded = fold_width(text).replace("−", "-")
    marked = _marked(folded)
    if marked is not None:
        return marked
    found = _numbers(folded)
    return found[-1] if found else None


def _parse(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def numbers_equal(a: str, b: str) -> bool:
    """Two numbers as equal: exactly for integers, within a relative 1e-9 otherwise.

    Floats from long divisions ("0.3333333333") should match "0.33333333333"; integers must not
    drift ("1000000000000000001" is not "1000000000000000000"). Anything unparsable is unequal.
    """
    x, y = _parse(a), _parse(b)
    if x is None or y is None:
        return False
    if x == x.to_integral_value() and y == y.to_integral_value():
        return x == y
    return math.isclose(float(x), float(y), rel_tol=1e-9)
