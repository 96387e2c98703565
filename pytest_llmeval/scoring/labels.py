"""Gold answers and log-likelihoods as option labels, so every multiple-choice score compares letters."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["normalize_choice_target", "pick_by_loglikelihood"]

_LETTER_DECORATION = " \t\r\n.)]:：。）"


def _as_letter(text: str, labels: str) -> str | None:
    """'b', ' B ', 'B.', '(B)', '[B]' -> 'B' when B is a label."""
    letter = text.strip(_LETTER_DECORATION).lstrip("([（").upper()
    return letter if len(letter) == 1 and letter in labels else None


def _as_index(text: str, labels: str) -> str | None:
    """A 0-based index ('1' -> 'B'), as HF datasets store MMLU's answer column."""
    return labels[int(text)] if text.isascii() and text.isdigit() and int(text) < len(labels) else None


def _exact(text: str) -> str:
    return text.strip()


def _loose(text: str) -> str:
    return " ".join(text.casefold().split())


def _as_option_text(text: str, choices: Sequence[str], labels: str) -> str | None:
    """The label of the one option equal to ``text``: exactly, else ignoring case and spacing."""
    for key in (_exact, _loose):
        matches = {label for label, option in zip(labels, choices) if key(option) == key(text)}
        if len(matches) == 1:
            return matches.pop()
    return None


def normalize_choice_target(target: str, choices: Sequence[str], labels: str) -> str:
    """The gold answer as a label: a letter ('b', ' B ', 'B.'), a 0-based index ('1'), or the text of one option.

    The forms are tried in that order, so a digit is an index even when some option reads "1":
    the letter form is the unambiguous one. Raises ValueError with a one-line message otherwise.
    """
    text = target.strip()
    for found in (_as_letter(text, labels), _as_index(text, labels), _as_option_text(text, choices, labels)):
        if found is not None:
            return found
    shown = repr(target if len(target) <= 60 else target[:57] + "...")
    span = f"{labels[0]}-{labels[-1]}" if labels else "no labels"
    raise ValueError(
        f"answer {shown} is neither a letter ({span}), a 0-based index below {len(labels)}, "
        "nor the text of exactly one option"
    )


def pick_by_loglikelihood(logprobs: Sequence[float], labels: str) -> str:
    """The label of the most likely option; the first one wins a tie, and NaN counts as impossible."""
    if len(logprobs) != len(labels):
        raise ValueError(f"{len(logprobs)} log-likelihoods for {len(labels)} options ({labels})")
    if not labels:
        raise ValueError("no options to choose from")
    scores = [-math.inf if math.isnan(lp) else lp for lp in logprobs]
    return labels[scores.index(max(scores))]
