"""Which option letter a free-text reply commits to.

Precedence, strongest first (each step runs only when the ones above found nothing):

1. Explicit answer phrases ("the answer is C", "Answer: C", "I choose C", "Option C is correct",
   "\\boxed{C}", "答案：C", "故选C", "选项C正确", "C选项。"). The LAST one wins: the final answer
   follows the reasoning. If it names a letter outside ``labels`` the reply is answered wrongly
   and the result is None; no other letter is searched for.
2. A letter opening the reply ("B", "B. Paris", "(B)", "**B**", "b) Paris", "B because ...",
   "B选项"), unless it opens a list ("A and C ...", "A/B") or the reply restates the options
   line by line ("A. ...\\nB. ...").
3. The one distinct upper-case label letter standing alone anywhere ("It's B."). Two or more
   distinct letters ("Both A and C seem plausible") are ambiguous: None, never a guess.
4. With ``choices`` and no letter at all: the one option whose text the reply quotes.

Everywhere, a letter is a standalone token, never part of a word ("As", "AI", "I'd"), and letters
the text rules out ("not A", "A is wrong", "A项错误") are skipped. "A" and "I" are English words
when followed by a word that can follow the article or pronoun ("A cat ...", "I think ..."); they
are letters when followed by punctuation, a line break, the end of the reply, or a word an
article never precedes ("A is", "A and C", "A because"). Lower-case letters count only in explicit
phrases and at the start of the reply ("a", "b) Paris"), since "a" is mostly the article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .phrases import EXPLICIT, LEAD, LETTER, LISTED, LISTING_AFTER, REJECT_AFTER, REJECT_BEFORE, follows_as_word
from .text import fold_width

__all__ = ["extract_choice"]

_LETTER_RE = re.compile(LETTER)
_MARKDOWN = re.compile(r"[*`]")
_BLANKS = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r" ?\n\s*")


def _prepare(text: str) -> str:
    """Full-width forms folded, Markdown emphasis dropped, whitespace runs shortened to one character.

    "**答案：（Ｂ）**" reads as "答案:(B)". Short whitespace also keeps every pattern linear on
    adversarial replies (thousands of spaces between a letter and a phrase).
    """
    text = _BREAKS.sub("\n", _BLANKS.sub(" ", _MARKDOWN.sub("", fold_width(text))))
    return text.strip()


def _counts(text: str, match: re.Match[str]) -> bool:
    """The captured letter is a choice: not an English word, and not ruled out by the text around it."""
    start, end = match.span("L")
    if follows_as_word(text, match.group("L"), end):
        return False
    if REJECT_AFTER.match(text, end):
        return False
    return REJECT_BEFORE.search(text[max(0, start - 40) : start]) is None


def _explicit(text: str) -> str | None:
    """The letter of the last explicit answer phrase, or None when there is none."""
    found: list[tuple[int, str]] = []
    for pattern in EXPLICIT:
        found += [(m.start("L"), m.group("L").upper()) for m in pattern.finditer(text) if _counts(text, m)]
    return max(found)[1] if found else None


def _restates_options(text: str, labels: str) -> bool:
    return len({letter for letter in LISTED.findall(text) if letter in labels}) >= 2


def _leading(text: str, labels: str) -> str | None:
    """The letter that opens the reply, when it is a verdict rather than the start of a list."""
    match = LEAD.match(text)
    if match is None or not _counts(text, match) or LISTING_AFTER.match(text, match.end("L")):
        return None
    letter = match.group("L").upper()
    return letter if letter in labels and not _restates_options(text, labels) else None


def _standalone(text: str, labels: str) -> set[str]:
    """Every distinct upper-case label letter that stands alone and is not ruled out."""
    return {
        m.group("L") for m in _LETTER_RE.finditer(text)
        if m.group("L").isupper() and m.group("L") in labels and _counts(text, m)
    }


def _quoted_option(text: str, labels: str, choices: Sequence[str]) -> str | None:
    """The label of the only option whose text the reply contains.

    A match inside a longer option's match does not count: "New York City" names that option,
    not also "New York".
    """
    folded = " ".join(text.casefold().split())
    spans: list[tuple[int, int, str]] = []
    for label, option in zip(labels, choices):
        needle = " ".join(option.casefold().split()).rstrip(".。")
        if needle:
            spans += [(m.start(), m.end(), label) for m in re.finditer(_bounded(needle), folded)]
    named = {label for start, end, label in spans if not _inside_another(start, end, spans)}
    return named.pop() if len(named) == 1 else None


def _inside_another(start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    return any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans)


def _bounded(needle: str) -> str:
    """``needle`` as a regex that cannot match inside a longer word or number ("4" in "14")."""
    before = r"(?<![0-9a-z])" if needle[0].isascii() and needle[0].isalnum() else ""
    after = r"(?![0-9a-z])" if needle[-1].isascii() and needle[-1].isalnum() else ""
    return before + re.escape(needle) + after


def extract_choice(text: str, labels: str = "ABCD", choices: Sequence[str] = ()) -> str | None:
    """The option letter the reply commits to, or None. Letters outside ``labels`` are never returned.

    See the module docstring for the precedence; ambiguity yields None, so a hedge scores as a miss.
    """
    clean = _prepare(text)
    if not clean or not labels:
        return None
    explicit = _explicit(clean)
    if explicit is not None:
        return explicit if explicit in labels else None
    leading = _leading(clean, labels)
    if leading is not None:
        return leading
    letters = _standalone(clean, labels)
    if letters:
        return letters.pop() if len(letters) == 1 else None
    return _quoted_option(clean, labels, choices) if choices else None
