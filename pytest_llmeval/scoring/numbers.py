"""The final number of a reply (GSM8K-style answers), and comparing two numbers.

Precedence, strongest first: the first number after the last ``####`` (GSM8K's answer marker);
the first number in the last ``\\boxed{...}``; a number directly after the last "answer is" /
"Answer:" / "答案是"; otherwise the last number in the reply. A phrase must touch its number, so
"the answer is the sum of 3 and 4, which is 7" still reads 7.

A fraction is one number: "2/5" is 0.4, the mixed number "1 1/2" is 1.5, "1½" and
"\\frac{3}{4}" are 1.5 and 0.75. People write exact answers that way, and reading "2/5" as its
denominator would score a right answer as wrong. Only a proper fraction joins the whole number
before it ("2 3/4" is 2.75, "3 6/2" is 3 and then 3), a slash between spaced numbers is a
division, not a fraction ("10 / 2 = 5" ends in 5), and a date such as "1/2/2024" is no fraction.
Scientific notation is not evaluated.

Numbers are kept as decimal strings, never floats, so "123456789012345678" survives exactly; a
fraction that does not end (1/3) keeps 28 significant digits, and ``numbers_equal`` compares
non-integers within a relative 1e-9.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Context, Decimal, InvalidOperation

from . import rules
from .text import fold_width

__all__ = ["extract_number", "numbers_equal", "read_number"]

_CURRENCY = re.compile(r"[$¥€£￥元%]")
_NOT_AFTER_FRACTION = r"(?![\d/]|\.\d)"
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w.])-)?(?:"
    # "1 1/2": a whole number, one space, a fraction (proper, checked in _value)
    rf"(?P<whole>(?<![\d.,/])\d+) (?P<mnum>\d+)/(?P<mden>\d+){_NOT_AFTER_FRACTION}"
    # "2/5", but not a date "1/2/2024" nor "3/4.5"
    rf"|(?<![\d.,/])(?P<num>\d+)/(?P<den>\d+){_NOT_AFTER_FRACTION}"
    r"|\\[dt]?frac\{\s*(?P<fnum>\d+)\s*\}\{\s*(?P<fden>\d+)\s*\}"
    # "1,234.5", "3", ".5", "18." (the dot is a full stop)
    r"|(?P<plain>(?:(?<![\d.])\d{1,3}(?:,\d{3})+(?!\d|,\d)|(?<![\d.])\d+|(?<![\w.])(?=\.\d))(?:\.\d+)?)"
    r")"
)  # A minus sign counts only where it cannot be a hyphen or a subtraction ("5-3" is 5 and 3).
_ANSWER_PHRASE = re.compile(
    r"(?:\banswer\b(?:\s+is)?|答案(?:是|为|應該是|应该是|应为)?|结果(?:是|为))"
    r"[\s:=*$¥€£￥\\{]*(?=[-.\d]|\\[dt]?frac)",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_EXACT = Context(prec=28)


def _vulgar_fractions() -> dict[int, str]:
    """"½" -> " 1/2" (so "1½" reads "1 1/2"), for every Unicode vulgar fraction; "⁄" -> "/"."""
    table = {0x2044: "/"}
    for code in [*range(0xBC, 0xBF), *range(0x2150, 0x2190)]:
        parts = unicodedata.decomposition(chr(code)).split()
        if parts[:1] == ["<fraction>"] and "2044" in parts:
            slash = parts.index("2044")
            digits = ["".join(chr(int(p, 16)) for p in side) for side in (parts[1:slash], parts[slash + 1:])]
            table[code] = f" {digits[0]}/{digits[1]}"
    return table


_VULGAR = _vulgar_fractions()


def _normalise(value: Decimal) -> str | None:
    """1234.50 -> "1234.5", 18.00 -> "18", -0 -> "0"; None for something that is not a finite number."""
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _ratio(numerator: str, denominator: str) -> Decimal | None:
    bottom = int(denominator)
    return None if bottom == 0 else _EXACT.divide(Decimal(int(numerator)), Decimal(bottom))


def _values(match: re.Match[str]) -> list[Decimal | None]:
    """The number(s) one match stands for: two when "3 6/2" is a whole number beside an improper fraction."""
    g = match.groupdict()
    values: list[Decimal | None]
    if g["whole"] is not None:
        whole, part = Decimal(int(g["whole"])), _ratio(g["mnum"], g["mden"])
        values = [whole + part] if part is not None and int(g["mnum"]) < int(g["mden"]) else [whole, part]
    elif g["num"] is not None:
        values = [_ratio(g["num"], g["den"])]
    elif g["fnum"] is not None:
        values = [_ratio(g["fnum"], g["fden"])]
    else:
        try:
            values = [Decimal(g["plain"].replace(",", ""))]
        except InvalidOperation:
            values = [None]
    if g["sign"] and values[0] is not None:
        values[0] = -values[0]
    return values


def _numbers(text: str) -> list[str]:
    found = [_normalise(v) for m in _NUMBER.finditer(_CURRENCY.sub("", text)) for v in _values(m) if v is not None]
    return [n for n in found if n is not None]


def _marked(text: str) -> tuple[str, str] | None:
    """The number a marker points at, and the rule: "#### 72", "\\boxed{72}", "The answer is 72"."""
    if "####" in text:
        after = _numbers(text.rsplit("####", 1)[1])
        if after:
            return after[0], rules.MARKER
    boxed = _BOXED.findall(text)
    if boxed and _numbers(boxed[-1]):
        return _numbers(boxed[-1])[0], rules.BOXED
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if phrases:
        first = next(iter(_numbers(text[phrases[-1].end() :])), None)
        return (first, rules.ANSWER_PHRASE) if first is not None else None
    return None


def read_number(text: str) -> tuple[str | None, str]:
    """The reply's final answer number, normalised (None when it has none), and the rule that read it.

    Thousands commas, currency signs ($ ¥ € £ ￥ 元), '%' and a trailing '.' are dropped:
    '$1,234.50' -> '1234.5', '18.00' -> '18'; a leading minus is kept; '2/5' -> '0.4'.
    """
    folded = fold_width(text).replace("−", "-").translate(_VULGAR)
    marked = _marked(folded)
    if marked is not None:
        return marked
    found = _numbers(folded)
    return (found[-1], rules.LAST_NUMBER) if found else (None, rules.NO_NUMBER)


def extract_number(text: str) -> str | None:
    """``read_number`` without the rule: the number alone, or None."""
    return read_number(text)[0]


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
