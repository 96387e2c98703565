"""Text normalisation shared by the extractors and the string scorers.

Kept apart so that "what counts as the same answer" is decided in one place: the letter and number
extractors fold full-width forms the same way, and exact_match, contains and regex apply the same
case, punctuation and whitespace rules.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

__all__ = ["TextRules", "fold_width", "normalize_text"]

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space. Chinese replies write "答案：（Ｂ）";
# NFKC would fold these too, but it also turns "m²" into "m2", which would invent a number.
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation as their ASCII twins; nothing else changes."""
    return text.translate(_WIDTH)


@dataclass(frozen=True, slots=True)
class TextRules:
    """How two strings are made comparable: the resolved ``scoring:`` options of one task."""

    ignore_case: bool = False
    ignore_punctuation: bool = False
    strip: bool = True


_SPACES = re.compile(r"\s+")


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalize_text(text: str, rules: TextRules) -> str:
    """``text`` as the rules compare it.

    Removing punctuation leaves gaps ("Hello , world"), so with ``ignore_punctuation`` runs of
    whitespace also become one space; otherwise inner whitespace is left alone, as exact matching
    expects.
    """
    if rules.ignore_punctuation:
        text = _SPACES.sub(" ", "".join(c for c in text if not _is_punctuation(c)))
    if rules.strip:
        text = text.strip()
    if rules.ignore_case:
        text = text.casefold()
    return text
