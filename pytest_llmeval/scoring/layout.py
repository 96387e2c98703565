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
  that enumerates the options too, while "The answer is A.\\nThe answer is B." is two answers;
- a model that loops repeats the list over and over until ``max_tokens`` cuts it: after two or
  more lists, a last line that starts the list again ("A. ...", and nothing after it) is that
  repetition cut off, not an answer;
- a list none of whose lines names an option of the question is **invented**: after a few-shot
  prompt the model goes on with a question of its own, and what follows that list answers it,
  not the question asked (``choice.py`` drops it);
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
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ..samples import CHOICE_LABELS
from .phrases import LETTER

__all__ = ["Lettered", "Options", "bounded", "lettered_lines", "normal", "without_lists"]

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
class Options:
    """A question's options as replies are compared with them, prepared once per reading."""

    labels: str
    texts: dict[str, str] = field(default_factory=dict)  # label -> normal(option text)
    openers: dict[str, re.Pattern[str]] = field(default_factory=dict)  # label -> its whole text, bounded
    longest: int = 0

    @classmethod
    def of(cls, labels: str, choices: Sequence[str]) -> Options:
        texts = {label: text for label, text in zip(labels, map(normal, choices)) if text}
        return cls(labels, texts, {label: re.compile(bounded(text)) for label, text in texts.items()},
                   max(map(len, texts.values()), default=0))

    def own(self, letter: str) -> str:
        """The normalised text of ``letter``'s option ("" when it has none)."""
        return self.texts.get(letter, "")

    def named(self, text: str, cut: bool = False) -> set[str]:
        """The labels of the options ``text`` names (module docstring); empty for an empty text.
        ``cut``: the text ends the reply, which may stop mid-word."""
        if not self.texts:
            return set()
        piece = normal(text[: 2 * self.longest + 16])  # longer than any option, it can only open with one
        if not piece:
            return set()
        exact = {label for label, whole in self.texts.items() if piece == whole}
        if exact:
            return exact
        return {label for label, whole in self.texts.items()
                if self.openers[label].match(piece) or _piece_of(piece, whole, cut)}

    def copied(self, text: str) -> str | None:
        """The one option ``text`` copies with a slip: at least 80% alike, and clearly closer (by
        0.1) than any other, since the options of one question often differ by a word."""
        piece = normal(text)
        if not piece or not self.texts:
            return None
        alike = sorted(((SequenceMatcher(None, piece, whole).ratio(), label) for label, whole in self.texts.items()),
                       reverse=True)
        if alike[0][0] < _SLIP or (len(alike) > 1 and alike[0][0] - alike[1][0] < _MARGIN):
            return None
        return alike[0][1]


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
    invented: bool = False  # in a list that names none of the question's options


def _lines(text: str) -> list[re.Match[str]]:
    return [m for m in _LINE.finditer(text) if m.group("L").isupper()]


def _follows(a: re.Match[str], b: re.Match[str], text: str) -> bool:
    """``b`` continues ``a``'s list: the next letter, the same lead-in, nothing but blank lines between."""
    return (CHOICE_LABELS.find(b.group("L")) == CHOICE_LABELS.find(a.group("L")) + 1 and _prefix(a) == _prefix(b)
            and not text[a.end():b.start()].strip())


def _prefix(m: re.Match[str]) -> str:
    return m.group("prefix").strip(_BULLETS)


def lettered_lines(text: str, options: Options) -> list[Lettered]:
    """Every lettered line of ``text``, those of echoed lists marked ``in_list``."""
    found = _lines(text)
    runs: list[list[int]] = []
    for i, m in enumerate(found):
        if runs and runs[-1][-1] == i - 1 and _follows(found[i - 1], m, text):
            runs[-1].append(i)
        else:
            runs.append([i])
    lines = [Lettered(m.start(), m.end(), m.start("L"), m.group("L"), _prefix(m), m.group("text").strip())
             for m in found]
    lists = [run for run in runs if len(run) >= 2
             and (not lines[run[0]].prefix or all(_copied(lines[i], options) for i in run))]
    listed = {i for run in lists for i in run}
    invented = {i for run in lists if not any(_names_any(lines[i], options) for i in run) for i in run}
    if len(lists) >= 2 and _loops_on(lines, lists[-1], text, options.labels):
        listed.add(len(lines) - 1)
    return [Lettered(line.start, line.end, line.at, line.letter, line.prefix, line.text, True, i in invented)
            if i in listed else line for i, line in enumerate(lines)]


def _names_any(line: Lettered, options: Options) -> bool:
    return bool(options.named(line.text)) or options.copied(line.text) is not None


def _loops_on(lines: Sequence[Lettered], last_list: list[int], text: str, labels: str) -> bool:
    """The reply's last line starts the list once more, right after the last list, and is cut there."""
    line = lines[-1]
    return (last_list[-1] == len(lines) - 2 and line.letter == labels[:1] and not line.prefix
            and not text[lines[-2].end:line.start].strip() and not text[line.end:].strip())


def _copied(line: Lettered, options: Options) -> bool:
    """The line's text is its own option's, exactly or with a copying slip."""
    return line.letter in options.named(line.text) or options.copied(line.text) == line.letter


def without_lists(text: str, lines: Sequence[Lettered]) -> str:
    """``text`` with the lines of echoed lists blanked (offsets kept), so nothing in them is read as an answer."""
    chars = list(text)
    for line in lines:
        if line.in_list and line.start < len(chars):
            chars[line.start:line.end] = " " * (min(line.end, len(chars)) - line.start)
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


def _piece_of(piece: str, whole: str, cut: bool) -> bool:
    """A piece of the option at least half as long as it (at the reply's end, cut mid-word too)."""
    if not _MIN_SHARE * len(whole) <= len(piece) <= len(whole):
        return False
    return bool(re.search(bounded(piece), whole)) or (cut and whole.startswith(piece))
