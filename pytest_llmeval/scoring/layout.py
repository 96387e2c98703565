"""A reply's lettered lines: which of them echo a list of options, and which option a text names.

Small models repeat the option list far more often than they answer: "A. Paris\\nB. London",
the whole list or its first lines, before or after an answer or instead of one. A person reads
such a list as a list and looks for the answer standing outside it; the same line ("D. Oslo")
standing apart is an answer, restated with its option's own text. So the lines are read first:

- a **lettered line** is a line whose letter (``A``, ``(B)``, ``C)``) is followed by ``.``, ``)``,
  ``:``, ``、`` and text, or ends the line;
- an **echoed list** is two or more consecutive lettered lines (blank lines between are fine)
  whose letters follow each other (A, B, C, or B, C, D), whatever their texts: the options,
  shifted ones, or a list the model made up. A list may also repeat a lead-in before each letter
  ("- The answer is A. <A's text>", "- The answer is B. <B's text>") when every line carries its
  own option's text, copied exactly or with a slip (the closest option's, at least 80% alike):
  that enumerates the options too, while "The answer is A.\nThe answer is B." is two answers;
- a model that loops repeats the list over and over until ``max_tokens`` cuts it: after two or
  more lists, a last line that starts the list again ("A. ...", and nothing after it) is that
  repetition cut off, not an answer;
- every other lettered line **stands apart**; what its text names decides what it says
  (``choice.py``).

A text **names** an option when, case, width and spacing aside and without end punctuation, it
is that option's text; failing that, when it is a piece of it at least half as long (a reply cut
by ``max_tokens``, or "a philosophical notion" for "essentially a philosophical notion"), or when
it opens with the option's whole text and goes on ("Japan is the least self-sufficient", with
option "Japan"). Never a piece of a longer word or number ("4" does not name "14"), except at the
very end of a reply cut mid-word ("Clickj").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher
from dataclasses import dataclass, replace

from ..samples import CHOICE_LABELS
from .phrases import LETTER

__all__ = ["Lettered", "bounded", "copied_option", "lettered_lines", "named_options", "normal", "without_lists"]

_LINE = re.compile(
    r"^(?P<prefix>[^\n]{0,60}?)[\(\[（【]?" + LETTER
    + r"(?:[\)\]）】][ \t]*[.:：、．]?|[ \t]*[.:：、．]|(?=[ \t]*$))[ \t]*(?P<text>[^\n]*)$",
    re.MULTILINE,
)
_BULLETS = " \t>#-–—•*_\"'“”‘’"
_END_PUNCTUATION = " \t.。,，;；:：!！?？\"'“”‘’()（）[]【】"
_MIN_SHARE = 0.5  # a piece of an option names it when at least this share of its length
_SLIP = 0.8  # how alike a text copied with a slip must be to its option
_MARGIN = 0.1  # ... and how much closer to it than to any other option


@dataclass(frozen=True, slots=True)
class Lettered:
    """One lettered line: where it is, its letter, what precedes and follows the letter, and
    whether it belongs to an echoed list."""

    start: int
    end: int
    at: int  # the letter's offset
    letter: str
    prefix: str
    text: str
    in_list: bool = False


def _lines(text: str) -> list[Lettered]:
    found = []
    for m in _LINE.finditer(text):
        prefix = m.group("prefix").strip(_BULLETS)
        if m.group("L").isupper():
            found.append(Lettered(m.start(), m.end(), m.start("L"), m.group("L"), prefix, m.group("text").strip()))
    return found


def _follows(a: Lettered, b: Lettered, text: str) -> bool:
    """``b`` continues ``a``'s list: the next letter, the same lead-in, nothing but blank lines between."""
    return (CHOICE_LABELS.find(b.letter) == CHOICE_LABELS.find(a.letter) + 1 and a.prefix == b.prefix
            and not text[a.end:b.start].strip())


def lettered_lines(text: str, labels: str, choices: Sequence[str]) -> list[Lettered]:
    """Every lettered line of ``text``, those of echoed lists marked ``in_list``."""
    lines = _lines(text)
    runs: list[list[int]] = []
    for i, line in enumerate(lines):
        if runs and runs[-1][-1] == i - 1 and _follows(lines[i - 1], line, text):
            runs[-1].append(i)
        else:
            runs.append([i])
    lists = [run for run in runs if len(run) >= 2
             and (not lines[run[0]].prefix or all(_copied(lines[i], labels, choices) for i in run))]
    listed = {i for run in lists for i in run}
    if len(lists) >= 2 and _loops_on(lines, lists[-1], text, labels):
        listed.add(len(lines) - 1)
    return [replace(line, in_list=i in listed) for i, line in enumerate(lines)]


def _loops_on(lines: Sequence[Lettered], last_list: list[int], text: str, labels: str) -> bool:
    """The reply's last line starts the list once more, right after the last list, and is cut there."""
    line = lines[-1]
    return (last_list[-1] == len(lines) - 2 and line.letter == labels[:1] and not line.prefix
            and not text[lines[-2].end:line.start].strip() and not text[line.end:].strip())


def _copied(line: Lettered, labels: str, choices: Sequence[str]) -> bool:
    """The line's text is its own option's, exactly or with a copying slip."""
    return line.letter in named_options(line.text, labels, choices) or copied_option(line.text, labels, choices) == line.letter


def copied_option(text: str, labels: str, choices: Sequence[str]) -> str | None:
    """The one option ``text`` copies with a slip: at least 80% alike, and clearly closer (by 0.1)
    than any other, since options of one question often differ by a word."""
    piece = normal(text)
    if not piece:
        return None
    alike = sorted(((SequenceMatcher(None, piece, normal(option)).ratio(), label)
                    for label, option in zip(labels, choices)), reverse=True)
    if not alike or alike[0][0] < _SLIP or (len(alike) > 1 and alike[0][0] - alike[1][0] < _MARGIN):
        return None
    return alike[0][1]


def without_lists(text: str, lines: Sequence[Lettered]) -> str:
    """``text`` with the lines of echoed lists blanked (offsets kept), so nothing in them is read as an answer."""
    chars = list(text)
    for line in lines:
        if line.in_list:
            chars[line.start:line.end] = " " * (line.end - line.start)
    return "".join(chars)


def normal(text: str) -> str:
    """``text`` as options are compared: NFKC (full width, Kangxi radicals), case-folded, spaces
    collapsed, without end punctuation or brackets."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).strip(_END_PUNCTUATION)


def bounded(needle: str) -> str:
    """``needle`` as a regex that cannot match inside a longer word or number ("4" in "14")."""
    before = r"(?<![0-9a-z])" if needle[0].isascii() and needle[0].isalnum() else ""
    after = r"(?![0-9a-z])" if needle[-1].isascii() and needle[-1].isalnum() else ""
    return before + re.escape(needle) + after


def named_options(text: str, labels: str, choices: Sequence[str], cut: bool = False) -> set[str]:
    """The labels of the options ``text`` names (module docstring); empty for an empty text.
    ``cut``: the text ends the reply, which may stop mid-word."""
    piece = normal(text)
    if not piece:
        return set()
    wholes = {label: normal(option) for label, option in zip(labels, choices)}
    exact = {label for label, whole in wholes.items() if whole and piece == whole}
    if exact:
        return exact
    return {label for label, whole in wholes.items() if whole and _names(piece, whole, cut)}


def _names(piece: str, whole: str, cut: bool) -> bool:
    """A piece of the option, or a text that opens with the whole option and goes on."""
    if re.match(bounded(whole), piece):
        return True
    if len(piece) < _MIN_SHARE * len(whole):
        return False
    return bool(re.search(bounded(piece), whole)) or (cut and whole.startswith(piece))
