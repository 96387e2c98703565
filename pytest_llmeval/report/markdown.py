"""The GitHub step summary: Markdown rendered from the results document.

What a reviewer sees on the workflow run page: a heading with the verdict, one table row per
subject and group with a column group per model (the share of unparsed replies among them, once
any reply was read by an extraction rule; with a baseline, the change and its p value,
regressions in bold), the lines that failed the run, the regressions, and the first
right-to-wrong flips (each saying whether the reply is now a wrong answer or unparsed) with their
prompts and replies folded in a ``<details>`` block.

GitHub shares one ``GITHUB_STEP_SUMMARY`` file between a job's steps and refuses a step's summary
over 1 MiB, so the summary is appended (never truncating) and capped: long tables, lists and flip
lists say how much they left out, and if it is still too big whole sections are dropped from the
end. Text from the run (subject names, prompts, replies, failure lines) is escaped so that it can
neither break a table row nor turn into Markdown or HTML. Renderers never re-aggregate and read
newer keys (``verdict``, ``comparisons``, ``regressions``, ``flips``, ``baseline``) as absent
when a document predates them.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import view

__all__ = [
    "STEP_SUMMARY_LIMIT", "append_step_summary", "code_block", "escape_cell", "escape_inline", "render_markdown",
]

STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes: GitHub refuses a step's summary above this
_BUDGET = STEP_SUMMARY_LIMIT - 16 * 1024  # room for the note that says what was dropped
MAX_ROWS = 200  # table rows (subject or group, all models side by side)
MAX_LINES = 50  # failure lines, regressions
MAX_FLIPS = 10
OUTPUT_CHARS = 2000  # of a prompt or reply shown in a flip
_LINE_CHARS = 500  # of one failure line
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_BACKTICKS = re.compile("`+")
_RowKey = tuple[str, str, str]  # (suite, kind, name)


def render_markdown(document: Mapping[str, Any], samples: Iterable[Mapping[str, Any]] = ()) -> str:
    """The step summary for one run. ``samples`` is accepted for the renderers' common signature;
    everything shown here (flips included) is already in the document."""
    sections = [_heading(document), _table(document), _failures(document), _regressions(document), _usage(document),
                _flips(document)]
    return _fit([_encodable(section) for section in sections if section])


def append_step_summary(path: str | os.PathLike[str], document: Mapping[str, Any],
                        samples: Iterable[Mapping[str, Any]] = ()) -> None:
    """Append the summary to ``path`` (``$GITHUB_STEP_SUMMARY``), after a blank line when the file
    already holds another step's or tool's text: the file is shared, so it is never truncated."""
    target = Path(path)
    separator = "\n" if target.exists() and target.stat().st_size else ""
    with target.open("a", encoding="utf-8", newline="\n") as handle:
        handle.write(separator + render_markdown(document, samples))


# -- escaping --------------------------------------------------------------------------------


def escape_inline(text: str) -> str:
    """``text`` as literal inline Markdown on one line: every ASCII punctuation character is
    backslash-escaped (CommonMark lets any of them be, and then shows it as itself), so no ``*``,
    ``|``, backtick, ``<`` or ``&`` in a subject name or an answer can start emphasis, code, HTML or
    an entity; line breaks become spaces so a list item stays one item."""
    return _PUNCTUATION.sub(r"\\\1", _lines(text)).replace("\n", " ")


def escape_cell(text: str) -> str:
    """``text`` as the content of one table cell: escaped like ``escape_inline`` (so ``|`` is ``\\|``
    and cannot split the cell), line breaks as ``<br>`` because a newline would end the row."""
    return "<br>".join(escape_inline(line) for line in _lines(text).split("\n"))


def code_block(text: str, info: str = "text") -> str:
    """``text`` verbatim in a fenced code block. The fence is one backtick longer than the longest
    run of backticks inside, so no line of the text can close it."""
    runs = [len(run) for run in _BACKTICKS.findall(text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    body = _lines(text)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{fence}{info}\n{body}{fence}"


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- sections --------------------------------------------------------------------------------


def _heading(document: Mapping[str, Any]) -> str:
    passed = _passed(document)
    mark, word = ("✅", "passed") if passed else ("❌", "failed")
    models = ", ".join(escape_inline(model) for model in view.models(document)) or "no models"
    lines = [f"## {mark} llmeval {word}: {models}"]
    baseline = document.get("baseline")
    if baseline:
        against = ", ".join(escape_inline(str(model)) for model in baseline.get("models") or [])
        lines.append(f"Compared with the baseline {escape_inline(str(baseline.get('path', '')))}"
                     + (f" ({against})" if against else "") + ".")
    return "\n\n".join(lines)


def _table(document: Mapping[str, Any]) -> str:
    models = view.models(document)
    rows = {view.row_key(row): row for row in view.rows(document)}
    keys = sorted(dict.fromkeys(key[1:] for key in rows), key=lambda k: (k[0], k[1] != "subject", k[2]))
    if not keys:
        return "No llmeval results."
    comparisons, regressions = view.comparisons(document, "comparisons"), view.comparisons(document, "regressions")
    with_baseline = bool(document.get("baseline") or comparisons)
    with_unparsed = any(row.get("unparsed") is not None for row in rows.values())
    with_metrics = any(row.get("metrics") for row in rows.values())
    failing = {key for key in keys if any(_row_fails(rows.get((m, *key)), regressions.get((m, *key))) for m in models)}
    shown = _pick(keys, failing, MAX_ROWS)
    lines = _table_head(models, with_baseline, with_unparsed, with_metrics)
    for key in shown:
        cells = [_label(key)]
        for model in models:
            cells += _model_cells(rows.get((model, *key)), comparisons.get((model, *key)),
                                  regressions.get((model, *key)), with_baseline, with_unparsed)
            cells += [_other_metrics(rows.get((model, *key)))] * with_metrics
        lines.append(_table_line(cells))
    return "\n".join(lines) + _left_out(len(keys) - len(shown), "rows")


_ALIGN = {"score": "---:", "95% CI": ":---:", "unparsed": "---:", "threshold": "---:", "verdict": ":---:", "Δ": "---:",
          "p": "---:", "other metrics": ":---"}


def _table_head(models: Sequence[str], with_baseline: bool, with_unparsed: bool, with_metrics: bool = False) -> list[str]:
    titles = ["score", "95% CI", *["unparsed"] * with_unparsed, "threshold", "verdict", *(["Δ", "p"] * with_baseline),
              *["other metrics"] * with_metrics]
    head = ["suite / subject"]
    for model in models:
        head += [f"{escape_cell(model)} {title}" if len(models) > 1 else title for title in titles]
    aligns = [":---"] + [_ALIGN[title] for title in titles] * len(models)
    return [_table_line(head), _table_line(aligns)]


def _model_cells(row: Mapping[str, Any] | None, comparison: Mapping[str, Any] | None,
                 regression: Mapping[str, Any] | None, with_baseline: bool, with_unparsed: bool) -> list[str]:
    if row is None:
        return [view.MISSING] * (4 + 2 * with_baseline + with_unparsed)
    gated = row.get("threshold") is not None or row.get("max_unparsed") is not None
    verdict = "❌" if _row_fails(row, regression) else ("✅" if gated else view.MISSING)
    unparsed = [view.number(row.get("unparsed_share"))] * with_unparsed
    cells = [view.number(row.get("score")), view.interval(row.get("ci_low"), row.get("ci_high")), *unparsed,
             view.number(row.get("threshold")), verdict]
    return cells + (_delta_cells(comparison, regression is not None) if with_baseline else [])


def _other_metrics(row: Mapping[str, Any] | None) -> str:
    """Each metric computed besides the row's score (``mode: cloze``), ``acc 0.250 · acc_bytes 0.250``."""
    metrics = (row or {}).get("metrics") or {}
    shown = [f"{escape_cell(str(name))} {view.number(value)}" for name, value in metrics.items() if name != (row or {}).get("metric")]
    return " · ".join(shown) or view.MISSING


def _delta_cells(comparison: Mapping[str, Any] | None, regressed: bool) -> list[str]:
    if comparison is None or comparison.get("status") != "compared":
        status = comparison.get("status") if comparison is not None else None
        return ["not comparable" if status == "not_comparable" else view.MISSING, view.MISSING]
    delta, p = view.number(comparison.get("delta"), "+.3f"), view.number(comparison.get("p_value"), ".3g")
    return [f"**{delta}**", f"**{p}**"] if regressed else [delta, p]


def _failures(document: Mapping[str, Any]) -> str:
    lines = list((document.get("verdict") or {}).get("failures") or [])
    if not lines:
        return ""
    items = [f"- {escape_inline(_cut(line, _LINE_CHARS))}" for line in lines[:MAX_LINES]]
    return "### Failures\n\n" + "\n".join(items) + _left_out(len(lines) - MAX_LINES, "failure lines")


def _regressions(document: Mapping[str, Any]) -> str:
    regressions = list(document.get("regressions") or [])
    if not regressions:
        return ""
    items = [f"- {_regression_line(c)}" for c in regressions[:MAX_LINES]]
    return "### Regressions\n\n" + "\n".join(items) + _left_out(len(regressions) - MAX_LINES, "regressions")


def _usage(document: Mapping[str, Any]) -> str:
    """Each model's tokens and cost, as the terminal's summary says them."""
    lines = [f"- {escape_inline(view.usage_line(record))}" for record in view.usage(document)]
    return "### Tokens and cost\n\n" + "\n".join(lines) if lines else ""


def _regression_line(c: Mapping[str, Any]) -> str:
    where = f"{c.get('model')} {c.get('suite')}/{c.get('name')}" + (" (group)" if c.get("kind") == "group" else "")
    return (f"**{escape_inline(where)}**: {view.number(c.get('score'))} vs {view.number(c.get('baseline_score'))} "
            f"for {escape_inline(str(c.get('baseline_model')))} over {c.get('n_paired')} paired samples, "
            f"Δ {view.number(c.get('delta'), '+.3f')}, p {view.number(c.get('p_value'), '.3g')} "
            f"({c.get('right_to_wrong')} right → wrong{_unparsed_part(c)}, {c.get('wrong_to_right')} wrong → right)")


def _unparsed_part(c: Mapping[str, Any]) -> str:
    """", 2 of them now unparsed": the flips that lost the answer format rather than a fact."""
    unparsed = c.get("right_to_unparsed") or 0
    return f", {unparsed} of them now unparsed" if unparsed else ""


def _flips(document: Mapping[str, Any]) -> str:
    flips = [f for f in document.get("flips") or [] if f.get("direction") == "right_to_wrong"]
    if not flips:
        return ""
    shown = flips[:MAX_FLIPS]
    parts = ["<details>", f"<summary>{len(shown)} of {len(flips)} right → wrong flips</summary>", ""]
    parts += [_flip(flip) for flip in shown]
    if len(flips) > len(shown):
        parts.append(f"_{len(flips) - len(shown)} more right → wrong flips are in results.json._\n")
    return "### Right → wrong flips\n\n" + "\n".join(parts) + "\n</details>"


def _flip(flip: Mapping[str, Any]) -> str:
    where = f"{flip.get('model')} {flip.get('suite')}/{flip.get('subject')} {flip.get('id')}"
    was, now = flip.get("baseline_extracted"), flip.get("extracted")
    kind = " (unparsed: no readable answer)" if flip.get("now") == "unparsed" else ""
    title = (f"#### {escape_inline(where)}: target {escape_inline(str(flip.get('target')))}, "
             f"was {escape_inline(str(was))}, now {escape_inline(str(now))}{kind}")
    texts = (("Prompt", "prompt"), ("Reply", "reply"), ("Baseline reply", "baseline_reply"))
    body = [f"{name}:\n\n{code_block(_cut(str(flip.get(key) or ''), OUTPUT_CHARS))}" for name, key in texts]
    return "\n\n".join([title, *body]) + "\n"


# -- size ------------------------------------------------------------------------------------


def _fit(sections: list[str], budget: int = _BUDGET) -> str:
    """The sections joined, dropping whole sections from the end (flips first) while the text is
    over ``budget`` bytes; as a last resort the text is cut at a line end."""
    kept = list(sections)
    while len(kept) > 1 and _size(kept) > budget:
        kept.pop()
    note = [] if len(kept) == len(sections) else [
        f"_{len(sections) - len(kept)} sections left out to stay under GitHub's 1 MiB step summary limit._"]
    text = "\n\n".join(kept + note) + "\n"
    if len(text.encode("utf-8")) > budget:
        cut = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
        text = cut[: cut.rfind("\n") + 1] + "\n_Summary cut at GitHub's 1 MiB step summary limit._\n"
    return text


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (JSON's ``"\\ud800"`` decodes to one) as ``?``: UTF-8 cannot hold them."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _size(sections: list[str]) -> int:
    return sum(len(section.encode("utf-8")) + 2 for section in sections)


def _pick(keys: Sequence[_RowKey], failing: set[_RowKey], cap: int) -> list[_RowKey]:
    """At most ``cap`` keys in table order, failing rows first in line for a place."""
    chosen = {*[k for k in keys if k in failing][:cap]}
    chosen |= {*[k for k in keys if k not in failing][: cap - len(chosen)]}
    return [k for k in keys if k in chosen]


def _left_out(count: int, what: str) -> str:
    return f"\n\n_{count} more {what} not shown; results.json has them all._" if count > 0 else ""


# -- reading the document --------------------------------------------------------------------






def _passed(document: Mapping[str, Any]) -> bool:
    """The document's verdict; an older document without one passes when every row did and nothing regressed."""
    verdict = document.get("verdict")
    if verdict:
        return bool(verdict.get("passed"))
    return not any(_row_fails(row, None) for row in view.rows(document)) and not document.get("regressions")


def _row_fails(row: Mapping[str, Any] | None, regression: Mapping[str, Any] | None) -> bool:
    return row is not None and (not row.get("passed", True) or row.get("unparsed_passed") is False
                                or regression is not None)


# -- text ------------------------------------------------------------------------------------


def _table_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _label(key: _RowKey) -> str:
    suite, kind, name = key
    return escape_cell(f"{suite}/{name}") + (" *(group)*" if kind == "group" else "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"

