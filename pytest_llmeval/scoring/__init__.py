"""Answer extraction and scoring.

``extract_choice`` reads the letter a free-text reply commits to, in English and Chinese. Peers'
extractors take the first capital letter ("As an AI..." scores as A) or the first letter named
("A is wrong, the answer is C" scores as A). Here precedence is:
1. explicit answer phrases ("the answer is C", "答案：C", "选C", "ANSWER: C", "C选项"): the LAST wins,
   because a reply's final answer follows its reasoning;
2. a reply that starts with a standalone letter ("B", "B. Paris", "(B)", "**B**");
3. a single distinct standalone letter anywhere (never inside a word; "A"/"I" used as English
   words are not letters unless the reply is just that letter);
4. exactly one option text quoted verbatim;
otherwise None: an ambiguous reply is a miss, not a guess.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = [
    "SCORING_OPTIONS", "TASKS", "Scored", "extract_choice", "extract_number", "normalize_choice_target",
    "numbers_equal", "pick_by_loglikelihood", "score_reply", "validate_options",
]

TASKS: tuple[str, ...] = ("multiple_choice", "exact_match", "contains", "regex", "numeric")
SCORING_OPTIONS: frozenset[str] = frozenset({"ignore_case", "ignore_punctuation", "strip", "pattern"})

_FULLWIDTH = str.maketrans("：（）［］　ＡＢＣＤＥＦＧＨＩＪ，．", ":()[] ABCDEFGHIJ,.")


def _explicit_patterns(labels: str) -> list[re.Pattern[str]]:
    L = f"[{labels}{labels.lower()}]"
    before = r"[\s:：是为為選选择擇项項\(\[（【\*\"'“]*"
    return [
        re.compile(rf"(?:answer|choice|option)\s*(?:is|would be|should be|:)?\s*(?:option\s*)?{before}({L})(?![A-Za-z])", re.I),
        re.compile(rf"(?:答案|选项|選項|正确答案|正確答案|故选|应选|選|选择|选){before}({L})(?![A-Za-z])"),
        re.compile(rf"(?:I\s+(?:choose|pick|select|go with|would choose|think it is|think it's|think)|correct\s+(?:one|option|answer)\s+is)\s*(?:option\s*)?[\(\[\*]*({L})(?![A-Za-z])", re.I),
        re.compile(rf"(?:option|choice)\s+\(?({L})\)?\s+is\s+(?:correct|right|the answer)", re.I),
        re.compile(rf"\b({L})\s*(?:选项|項|项)?\s*(?:是正确的|正确|is correct|is the correct answer|is right)"),
    ]


_LETTER_FOLLOWERS = frozenset({"and", "or", "nor", "is", "was", "seems", "seem", "looks", "vs", "versus", "are"})


def _standalone_letters(text: str, labels: str) -> list[str]:
    found = []
    for match in re.finditer(rf"(?<![A-Za-z0-9'’])([{labels}])(?![A-Za-z0-9'’])", text):
        letter = match.group(1)
        following = re.match(r"\s+([a-z]+)", text[match.end():])
        if letter in "AI" and following and following.group(1) not in _LETTER_FOLLOWERS:
            continue  # "A cat", "I think": English words, not options ("A and C", "A is" stay letters)
        found.append(letter)
    return found


def extract_choice(text: str, labels: str = "ABCD", choices: Sequence[str] = ()) -> str | None:
    """The option letter the reply commits to, or None. Letters outside ``labels`` are never returned."""
    if not labels:
        return None
    clean = text.translate(_FULLWIDTH).replace("**", "").strip()
    if not clean:
        return None
    if len(clean) <= 3 and clean.strip(".)(:]*[ ").upper() in labels and clean.strip(".)(:]*[ "):
        return clean.strip(".)(:]*[ ").upper()
    hits: list[tuple[int, str]] = []
    for pattern in _explicit_patterns(labels):
        hits += [(m.start(1), m.group(1).upper()) for m in pattern.finditer(clean)]
    if hits:
        return max(hits)[1]
    lead = re.match(rf"^[\(\[\s]*([{labels}])(?:[\.\):：,，\]]|\s*$|\s+[-–—]|\n)", clean)
    if lead:
        return lead.group(1)
    letters = set(_standalone_letters(clean, labels))
    if len(letters) == 1:
        return letters.pop()
    if choices and not letters:
        quoted = [label for label, option in zip(labels, choices) if option and option.strip() and option.strip().lower() in clean.lower()]
        if len(quoted) == 1:
            return quoted[0]
    return None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def _normalise_number(raw: str) -> str | None:
    text = raw.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value).rstrip("0").rstrip(".") if "e" not in repr(value) else repr(value)


def extract_number(text: str) -> str | None:
    """The reply's final answer number: '#### n' if present, else the last number; normalised."""
    clean = text.translate(_FULLWIDTH)
    final_only = "####" in clean
    if final_only:
        clean = clean.rsplit("####", 1)[1]
    clean = re.sub(r"[$¥€£￥元%]", "", clean)
    clean = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", clean)
    found = _NUMBER.findall(clean)
    for raw in (found if final_only else reversed(found)):
        normalised = _normalise_number(raw)
        if normalised is not None:
            return normalised
    return None


def numbers_equal(a: str, b: str) -> bool:
    try:
        x, y = float(a.replace(",", "")), float(b.replace(",", ""))
    except ValueError:
        return False
    if x.is_integer() and y.is_integer():
        return int(x) == int(y)
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def normalize_choice_target(target: str, choices: Sequence[str], labels: str) -> str:
    """The gold answer as a label: a letter ('b', 'B.'), a 0-based index ('1'), or an option's text."""
    text = target.strip()
    letter = text.rstrip(".)").lstrip("(").upper()
    if len(letter) == 1 and letter in labels:
        return letter
    if text.isdigit() and int(text) < len(labels):
        return labels[int(text)]
    matches = [label for label, option in zip(labels, choices) if option.strip() == text]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"answer {target!r} is neither a letter in {labels}, a 0-based index, nor one option's text")


def pick_by_loglikelihood(logprobs: Sequence[float], labels: str) -> str:
    if len(logprobs) != len(labels):
        raise ValueError(f"{len(logprobs)} log-likelihoods for {len(labels)} options")
    best = max(range(len(logprobs)), key=lambda i: (logprobs[i], -i))
    return labels[best]


@dataclass(frozen=True, slots=True)
class Scored:
    extracted: str | None
    correct: bool


def validate_options(task: str, options: Mapping[str, Any]) -> None:
    """Reject a bad ``scoring:`` block at collection, naming the key."""
    for key in options:
        if key not in SCORING_OPTIONS:
            raise ConfigError(f"unknown option (expected one of {', '.join(sorted(SCORING_OPTIONS))})", key=f"scoring.{key}")
    for key in ("ignore_case", "ignore_punctuation", "strip"):
        if key in options and not isinstance(options[key], bool):
            raise ConfigError(f"expected true or false, got {options[key]!r}", key=f"scoring.{key}")
    if task == "regex":
        pattern = options.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError("task regex needs a regular expression here", key="scoring.pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"invalid regular expression ({exc})", key="scoring.pattern") from None


_PUNCT = str.maketrans("", "", string.punctuation + "。，、！？；：“”‘’（）《》")


def _normal_text(text: str, options: Mapping[str, Any], default_ignore_case: bool) -> str:
    if options.get("strip", True):
        text = text.strip()
    if options.get("ignore_punctuation", False):
        text = text.translate(_PUNCT).strip()
    if options.get("ignore_case", default_ignore_case):
        text = text.casefold()
    return " ".join(text.split()) if options.get("strip", True) else text


def score_reply(task: str, reply: str, target: str, *, labels: str = "ABCD", choices: Sequence[str] = (),
                options: Mapping[str, Any] = {}) -> Scored:
    if task == "multiple_choice":
        letter = extract_choice(reply, labels, choices)
        return Scored(letter, letter == target)
    if task == "numeric":
        number = extract_number(reply)
        gold = extract_number(target)
        return Scored(number, number is not None and gold is not None and numbers_equal(number, gold))
    if task == "exact_match":
        return Scored(reply, _normal_text(reply, options, False) == _normal_text(target, options, False))
    if task == "contains":
        return Scored(reply, _normal_text(target, options, True) in _normal_text(reply, options, True))
    if task == "regex":
        validate_options(task, options)
        match = re.search(str(options["pattern"]), reply, re.DOTALL | re.MULTILINE)
        if match is None:
            return Scored(None, False)
        found = match.group(1) if match.groups() else match.group(0)
        return Scored(found, _normal_text(found, options, False) == _normal_text(target, options, False))
    raise ConfigError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})", key="task")
