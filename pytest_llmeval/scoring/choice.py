"""Which option letter a free-text reply commits to, and which rule read it (``rules.py``).

A reply is read as a careful person reads it (the corpus in tests/data holds this module to that):

1. **Echoed option lists are set aside** (``layout.py``): "A. Paris\\nB. London ..." lists the
   options, whole or cut off, before, after or instead of an answer; nothing in such a list is an
   answer. A reply that is nothing but lists is unparsed (``echoed options``).
2. **Every commitment outside the lists is collected**:
   - explicit answer phrases and conclusion markers, in English and Chinese ("the answer is C",
     "Answer: C", "I choose C", "Option C is correct", "So, C.", "\\boxed{C}", "答案：C", "故选C",
     "所以选出选项：D", "结果：D", "C选项。") -> ``answer phrase``;
   - a lettered line standing apart whose text is its own option's ("D. <D's text>", "Option D.
     <D's text>") -> ``restated option``: strong evidence, since the model wrote out what it chose;
   - the letter opening the reply ("B", "(B)", "B because ...", "B选项"), and a bare lettered line
     elsewhere -> ``opening letter`` / ``lone letter``.
   What follows a list the model made up (an invented next question, after a few-shot prompt)
   answers that question, not the one asked, and is left out.
   A letter followed by the text of *another* option ("A. <C's text>", "The answer is A. <C's
   text>") is a mixed commitment: the letter and the text disagree.
3. **They must agree; never guess.** One letter across all commitments is the answer (the rule
   named is the strongest: phrase, then restated option, then opening letter). Two letters are
   ``conflicting answers``, unless the reply itself says which one counts: a commitment ending in
   "?" is a hedge and is dropped, and a correction ("Actually, ...", "Wait, ...", "实际上") drops
   the ones before it. A mixed commitment is settled only by an explicit answer phrase naming its
   letter or its text's option; beside another restatement ("A. <A's text>" ... "A. <D's text>")
   the reply contradicts itself, and alone it says two things: both are conflicting. A letter outside the choices (E for A-D, "The answer is
   X") is never an answer: alone it is ``outside the choices``, beside another it conflicts.
4. Without any commitment: the one distinct upper-case label letter standing alone anywhere
   ("It's B.") -> ``lone letter``; two or more ("Both A and C") conflict.
5. Without any letter: the one option whose text the reply quotes (a quote the text rules out,
   "<A's text> is not a valid answer", does not count), or else the one option the reply opens
   with, copied with a slip ("The British Glorious Revolution of 1688" for "Britain's Glorious
   Revolution of 1688") -> ``option text``.

Everywhere, a letter is a standalone token, never part of a word ("As", "AI", "I'd") or a name's
initials ("A. J. P. Taylor"), and letters the text rules out ("not A", "A is wrong", "A项错误") are
skipped. "A" and "I" are English words when followed by a word that can follow the article or
pronoun ("A cat ...", "A 15-year-old ...", "I think ..."); they are letters when followed by
punctuation, a line break, the end of the reply, or a word an article never precedes ("A is",
"A and C", "A because"). Lower-case letters count only in explicit phrases and at the start of
the reply ("a", "b) Paris"), since "a" is mostly the article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from . import rules
from .layout import Lettered, Options, bounded, lettered_lines, normal, without_lists
from .phrases import (
    CORRECTION, EXPLICIT, HEDGE_AFTER, LEAD, LETTER, LETTER_LIST, LISTING_AFTER, OPTION_WORD, REJECT_AFTER,
    REJECT_BEFORE, TRAILING_TEXT, follows_as_word,
)
from .text import fold_width

__all__ = ["Choice", "extract_choice", "read_choice"]

_LETTER_RE = re.compile(LETTER)
_MARKDOWN = re.compile(r"[*`]")
_BLANKS = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r" ?\n\s*")
_STRENGTH = (rules.ANSWER_PHRASE, rules.RESTATED_OPTION, rules.OPENING_LETTER, rules.LONE_LETTER)


@dataclass(frozen=True, slots=True)
class Choice:
    """The letter a reply commits to (None: unparsed) and the rule that read it, or why none could."""

    letter: str | None
    rule: str


@dataclass(frozen=True, slots=True)
class _Commitment:
    """One place where the reply commits to ``letter``; ``others`` are the other options its own
    text names (a mixed commitment: "A. <C's text>"). A ``weak`` one (a lower-case opening letter,
    mostly the article "a") counts only when nothing else commits."""

    at: int
    letter: str
    rule: str
    others: frozenset[str] = frozenset()
    weak: bool = False


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


def _commitment(at: int, letter: str, rule: str, text: str, options: Options, cut: bool = False) -> _Commitment:
    """``letter`` with the text that follows it: its own option's text makes it a restated option,
    another option's text makes it mixed. ``cut``: that text ends the reply."""
    named = options.named(text, cut)
    if letter in named:
        return _Commitment(at, letter, rules.RESTATED_OPTION if rule != rules.ANSWER_PHRASE else rule)
    return _Commitment(at, letter, rule, frozenset(named))


def _phrases(text: str, options: Options) -> list[_Commitment]:
    """Every explicit answer phrase that is not ruled out or hedged ("the answer is C?")."""
    found = []
    end = len(text.rstrip())  # where the reply's last word ends
    for pattern in EXPLICIT:
        for m in pattern.finditer(text):
            if not _counts(text, m) or HEDGE_AFTER.match(text, m.end("L")):
                continue
            trailing = TRAILING_TEXT.match(text, m.end("L"))
            assert trailing is not None  # every part of it is optional
            found.append(_commitment(m.start("L"), m.group("L").upper(), rules.ANSWER_PHRASE, trailing.group("text"),
                                     options, cut=trailing.end() >= end))
    return found


def _apart(text: str, lines: Sequence[Lettered], options: Options) -> list[_Commitment]:
    """The lettered lines outside echoed lists, with no lead-in but an option word ("Option D. …"),
    that are not ruled out and do not just list letters ("A. A.B.C.D.E")."""
    found = []
    start, end = len(text) - len(text.lstrip()), len(text.rstrip())  # where the reply's first and last words are
    for line in lines:
        if line.in_list or (line.prefix and not OPTION_WORD.fullmatch(line.prefix)) or line.letter not in options.labels:
            continue  # a lettered line outside the choices is a list item ("E.", "I."), not an answer
        if _rules_out(line, options) or _lists_letters(line.text):
            continue
        rule = rules.OPENING_LETTER if line.start <= start else rules.LONE_LETTER
        found.append(_commitment(line.at, line.letter, rule, line.text, options, cut=line.end >= end))
    return found


def _rules_out(line: Lettered, options: Options) -> bool:
    """"A) wrong", "A. <A's text> is not a valid answer": the line rules its letter out."""
    if REJECT_AFTER.match(line.text):
        return True
    own = options.own(line.letter)
    text = normal(line.text[: 2 * len(own) + 64])
    return bool(own) and text.startswith(own) and REJECT_AFTER.match(text, len(own)) is not None


def _lists_letters(text: str) -> bool:
    """"A.B.C.D.E": a text listing several letters, not an option ("A. A. A." only stutters)."""
    match = LETTER_LIST.match(text)
    return match is not None and len(set(re.findall("[A-Z]", match.group()))) > 1


def _blank_letter_list(match: re.Match[str]) -> str:
    return " " * len(match.group()) if _lists_letters(match.group()) else match.group()


def _opening(text: str, lines: Sequence[Lettered], labels: str) -> list[_Commitment]:
    """The letter opening the reply ("(B)", "B because ...", "Option B", "b) Paris"), unless it
    opens a list ("A and C ...", "A/B"), is no choice, or a lettered line already counted it."""
    match = LEAD.match(text)
    if match is None or not _counts(text, match) or LISTING_AFTER.match(text, match.end("L")):
        return []
    if match.group("L").upper() not in labels:
        return []
    if any(line.at == match.start("L") for line in lines if not line.in_list):
        return []
    letter = match.group("L")
    return [_Commitment(match.start("L"), letter.upper(), rules.OPENING_LETTER, weak=letter.islower())]


def _corrected(text: str, found: list[_Commitment]) -> list[_Commitment]:
    """Only the commitments after the reply's last correction that is followed by one."""
    for marker in reversed([m.end() for m in CORRECTION.finditer(text)]):
        after = [c for c in found if c.at >= marker]
        if after:
            return after
    return found


def _decide(found: list[_Commitment], labels: str) -> Choice:
    """One letter across all commitments, or why not (module docstring, step 3)."""
    clean = {c.letter for c in found if not c.others}
    if len(clean) != 1:
        return Choice(None, rules.CONFLICTING)
    letter = clean.pop()
    settled = any(c.rule == rules.ANSWER_PHRASE for c in found if not c.others)
    if any(not settled or letter not in {c.letter, *c.others} for c in found if c.others):
        return Choice(None, rules.CONFLICTING)
    if letter not in labels:
        return Choice(None, rules.OUTSIDE_CHOICES)
    rule = min((c.rule for c in found if c.letter == letter and not c.others), key=_STRENGTH.index)
    return Choice(letter, rule)


def _standalone(text: str, labels: str, ruled_out: set[int]) -> set[str]:
    """Every distinct upper-case label letter that stands alone and is not ruled out (by the text
    around it, or by its lettered line: ``ruled_out`` holds those lines' letter offsets)."""
    return {
        m.group("L") for m in _LETTER_RE.finditer(text)
        if m.group("L").isupper() and m.group("L") in labels and m.start("L") not in ruled_out and _counts(text, m)
    }


def _quoted_option(text: str, options: Options) -> str | None:
    """The label of the only option whose text the reply contains.

    A match inside a longer option's match does not count: "New York City" names that option,
    not also "New York".
    """
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    spans: list[tuple[int, int, str]] = []
    for label, needle in options.texts.items():
        if needle:
            spans += [(m.start(), m.end(), label) for m in re.finditer(bounded(needle), folded)
                      if not REJECT_AFTER.match(folded, m.end())]
    named = {label for start, end, label in spans if not _inside_another(start, end, spans)}
    return named.pop() if len(named) == 1 else None


def _inside_another(start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    return any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans)


def read_choice(text: str, labels: str = "ABCD", choices: Sequence[str] = ()) -> Choice:
    """The option letter the reply commits to, and the rule. Letters outside ``labels`` are never returned.

    See the module docstring for the steps; ambiguity yields None, so a hedge scores as a miss.
    """
    clean = _prepare(text)
    if not clean or not labels:
        return Choice(None, rules.NO_ANSWER)
    options = Options.of(labels, choices)
    every = lettered_lines(clean, options)
    invented = min((line.start for line in every if line.invented), default=len(clean))
    outside = without_lists(clean[:invented], every)  # what follows a question it made up answers that one
    lines = [line for line in every if line.start < invented]
    found = _phrases(outside, options) + _apart(outside, lines, options) + _opening(outside, lines, labels)
    strong = [c for c in found if not c.weak]
    if found:
        return _decide(_corrected(outside, strong or found), labels)
    ruled_out = {line.at for line in lines if not line.in_list and (_rules_out(line, options) or _lists_letters(line.text))}
    letters = _standalone(LETTER_LIST.sub(_blank_letter_list, outside), labels, ruled_out)
    if letters:
        return Choice(letters.pop(), rules.LONE_LETTER) if len(letters) == 1 else Choice(None, rules.CONFLICTING)
    quoted = _quoted_option(outside, options) if choices else None
    if quoted is None and choices and not any(line.in_list and line.start == 0 for line in lines):
        quoted = options.copied(clean.split("\n", 1)[0])  # the reply opens with it
    if quoted is not None:
        return Choice(quoted, rules.OPTION_TEXT)
    return Choice(None, rules.ECHOED_OPTIONS if any(line.in_list for line in every) else rules.NO_ANSWER)


def extract_choice(text: str, labels: str = "ABCD", choices: Sequence[str] = ()) -> str | None:
    """``read_choice`` without the rule: the letter alone, or None."""
    return read_choice(text, labels, choices).letter
