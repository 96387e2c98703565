"""The baseline part of the terminal summary: what was compared, and the samples that flipped.

Pure computation into lines, like ``report.terminal``. The terminal shows the first few flips of
each kind (those in regressed rows first, since that is where an engineer starts reading);
results.json and report.html have them all. Right -> wrong flips come in two kinds, by what the
reply is now: a wrong answer (the model forgot a fact) or unparsed (it stopped following the
answer format).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .terminal import Line
from .view import MISSING

__all__ = ["baseline_lines", "flip_now"]

_CLIP = 160


def baseline_lines(baseline: dict[str, Any] | None, comparisons: Sequence[dict[str, Any]],
                   flips: Sequence[dict[str, Any]], notes: Sequence[str], shown: int) -> list[Line]:
    lines: list[Line] = []
    if baseline is not None:
        lines.append((_headline(baseline, comparisons), {"bold": True}))
    lines.extend((note, {"yellow": True}) for note in notes)
    regressed = {(c["model"], c["suite"], c["name"]) for c in comparisons if c["regressed"] and c["kind"] == "subject"}
    for now, title, markup in (("wrong answer", "right -> wrong answer", {"red": True}),
                               ("unparsed", "right -> unparsed (no readable answer now)", {"red": True}),
                               ("right", "wrong -> right", {"green": True})):
        chosen = [f for f in flips if flip_now(f) == now]
        if not chosen or shown <= 0:
            continue
        chosen.sort(key=lambda f: (f["model"], f["suite"], f["subject"]) not in regressed)  # stable: keeps order
        lines.append((f"flipped {title}: {len(chosen)}" + (f" (first {shown}; all in the reports)"
                                                           if len(chosen) > shown else ""), markup))
        for flip in chosen[:shown]:
            lines.extend(_flip_lines(flip))
    return lines


def flip_now(flip: dict[str, Any]) -> str:
    """What the flipped sample's reply is now: "wrong answer", "unparsed" or "right" (documents
    written before the split carry only the direction)."""
    return str(flip.get("now") or ("right" if flip["direction"] == "wrong_to_right" else "wrong answer"))


def _headline(baseline: dict[str, Any], comparisons: Sequence[dict[str, Any]]) -> str:
    counts = {status: sum(c["status"] == status for c in comparisons)
              for status in ("compared", "not_comparable", "no_baseline")}
    regressed = sum(c["regressed"] for c in comparisons)
    improved = sum(c["improved"] for c in comparisons)
    models = ", ".join(baseline.get("models") or []) or MISSING
    return (f"baseline {baseline['path']} ({models}, {baseline.get('created') or MISSING}): {counts['compared']} compared, "
            f"{regressed} regressed, {improved} improved, {counts['not_comparable']} not comparable, "
            f"{counts['no_baseline']} new")


def _flip_lines(flip: dict[str, Any]) -> list[Line]:
    head = (f"  {flip['model']} {flip['suite']}/{flip['subject']} id={flip['id']}: target {_show(flip['target'])}, "
            f"was {_show(flip['baseline_extracted'])}, now {_show(flip['extracted'])}")
    return [(head, {}), (f"      prompt: {_clip(flip['prompt'], tail=True)}", {}),
            (f"      reply:  {_clip(flip['reply'])}", {})]


def _show(value: Any) -> str:
    return MISSING if value is None else repr(value) if isinstance(value, str) and (not value or value.strip() != value) else str(value)


def _clip(text: str | None, tail: bool = False) -> str:
    """One line, newlines shown as ⏎. Long text keeps its start, or for a prompt its end: after
    few-shot examples, the question asked is at the end."""
    flat = (text or "").replace("\r\n", "\n").replace("\n", "⏎")
    if len(flat) <= _CLIP:
        return flat
    return "…" + flat[1 - _CLIP:] if tail else flat[: _CLIP - 1] + "…"
