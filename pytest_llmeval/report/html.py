"""report.html: one self-contained page rendered from the results document and the sample records.

The page must open from a CI artifact with no network (an air-gapped runner, a mail attachment),
so everything is inline: CSS and vanilla JS are read from ``templates/`` and pasted into the page,
and the charts are SVG drawn here, server-side, so they exist even with JavaScript off. Only the
sample table needs JS: 15,000 rows of DOM would freeze a browser, so the samples travel as one
JSON block and the script renders at most ``PAGE_SIZE`` rows at a time.

Like every renderer (docs/results-document.md) this one never re-aggregates: scores, intervals,
pass/fail, comparisons and the verdict are shown exactly as the document says. Keys added by
later schema parts (``verdict``, ``comparisons``, ``flips``, ``baseline``, ...) may be missing;
missing means empty. jinja2 is imported only when a page is rendered, so importing the plugin
stays cheap.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_atomic
from . import view
from .baseline import flip_now
from .circular import letter_shares, transform_shares

if TYPE_CHECKING:
    import jinja2

__all__ = ["PAGE_SIZE", "SAMPLE_TEXT_LIMIT", "render_html", "write_html"]

SAMPLE_TEXT_LIMIT = 4000  # characters of a prompt or reply kept in the page; bounds the file size
PAGE_SIZE = 200  # sample rows rendered at once, so 15,000 samples stay responsive
# ``prompt`` holds only what follows ``prefix``, an index into the shared prefixes (see _share_prefixes).
SAMPLE_COLUMNS = ["model", "suite", "subject", "id", "status", "target", "extracted", "rule", "unparsed", "prefix",
                  "prompt", "reply", "error", "latency_s", "truncated"]
_COL = {name: i for i, name in enumerate(SAMPLE_COLUMNS)}
_TRUNCATED = "\n… [truncated: {cut} of {n} characters cut here] …\n"
_ANSWER_LIMIT = 400  # characters of an extracted answer or a target: the reply beside it has more
_PREFIX_LIMIT = 10 * SAMPLE_TEXT_LIMIT  # a longer shared prefix is not kept whole: its rows are cut instead

# Chart geometry, in SVG user units (the SVG scales to the page width through its viewBox).
_LABEL_W, _PLOT_W, _VALUE_W = 250.0, 440.0, 190.0
_ROW_H, _BAR_H, _TOP, _BOTTOM = 24.0, 12.0, 22.0, 8.0
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)

Key = view.RowKey


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a chart, already in SVG coordinates; ``None`` leaves a mark out."""

    label: str
    kind: str
    name: str
    model: str
    y: float
    width: float | None
    ci: tuple[float, float] | None
    threshold: float | None
    baseline: float | None
    failing: bool
    regressed: bool
    value: str
    tooltip: str
    series: int = 0

    @property
    def css(self) -> str:
        return " ".join(["bar", f"series-{self.series}"] + ["fail"] * self.failing + ["regressed"] * self.regressed)


@dataclass(frozen=True, slots=True)
class Chart:
    """One SVG: the rows of a suite (or, in the comparison view, its rows grouped by model)."""

    suite: str
    id: str
    bars: list[Bar]
    height: float
    width: float = _LABEL_W + _PLOT_W + _VALUE_W
    ticks: list[tuple[float, str]] = field(default_factory=lambda: [(_x(t), f"{t:g}") for t in _TICKS])
    separators: list[float] = field(default_factory=list)
    left: float = _LABEL_W  # where the plot starts: labels end here, bars start here
    value_x: float = _LABEL_W + _PLOT_W + 8
    bar_height: float = _BAR_H


@dataclass(frozen=True, slots=True)
class Cell:
    """One model's score in the comparison table; ``best`` marks the highest in its row."""

    score: str
    interval: str
    best: bool
    failing: bool


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One subject or group across the models, ``None`` where a model has no such row."""

    suite: str
    kind: str
    name: str
    cells: list[Cell | None]


def write_html(path: str | os.PathLike[str], document: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    """Render and write ``report.html`` atomically: a reader (a CI artifact upload) never sees half a page."""
    write_atomic(path, render_html(document, samples))


def render_html(document: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """The whole page as one string: inline CSS, inline SVG, inline JS, the samples as embedded JSON."""
    return _environment().get_template("report.html.j2").render(**_context(document, samples))


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.globals["MISSING"] = view.MISSING
    env.filters["duration"] = _duration
    env.filters["shares"] = letter_shares
    env.filters["transforms"] = transform_shares
    return env


def _context(document: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any]:
    run: dict[str, Any] = document.get("run") or {}
    rows = _rows(document)
    models = view.models(document)
    comparisons: list[dict[str, Any]] = list(document.get("comparisons") or [])
    baselines = _baseline_scores(comparisons)
    regressed = {view.comparison_key(c) for c in document.get("regressions") or []}
    records = view.latest_samples(samples)
    return {
        "run": run, "options": run.get("options") or {}, "models": models,
        "model_labels": [_model_label(m) for m in run.get("models") or []] or models,
        "verdict": document.get("verdict"), "baseline": _baseline_path(document, run),
        "charts": _suite_charts(rows, baselines, regressed, len(models) > 1),
        "unparsed_rows": [r for r in rows if r.get("unparsed") is not None],
        "rules": sorted({str(s.get("rule")) for s in records if s.get("rule")}),
        "compare_rows": _compare_rows(rows, models) if len(models) > 1 else [],
        "compare_charts": _compare_charts(rows, models) if len(models) > 1 else [],
        "comparisons": comparisons, "regressions": list(document.get("regressions") or []),
        "flips": [_short_flip(f) for f in document.get("flips") or []],
        "has_baseline": bool(comparisons or document.get("baseline")),
        "latency": list(document.get("latency") or []),
        "usage": [_usage_row(u) for u in view.usage(document)],
        "circular": list(document.get("circular") or []),
        "perturb": list(document.get("perturb") or []),
        "latency_metrics": _latency_metrics(document.get("latency") or []),
        "concurrency": [c for c in map(_concurrency_chart, run.get("concurrency") or []) if c is not None],
        "samples_json": _samples_json(records), "sample_count": len(records),
        "text_limit": SAMPLE_TEXT_LIMIT, "page_size": PAGE_SIZE,
    }


# -- adaptive concurrency's curve ----------------------------------------------------------------

_CURVE_W, _CURVE_H, _CURVE_LEFT, _CURVE_TOP, _CURVE_BOTTOM = 640.0, 180.0, 40.0, 10.0, 24.0


@dataclass(frozen=True, slots=True)
class CurveChart:
    """One model's adaptive concurrency over the run: the limit and the requests in flight, as step
    lines over seconds since the first request (``run.concurrency`` in the document)."""

    model: str
    limit: str  # SVG polyline points
    in_flight: str
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    record: dict[str, Any]
    width: float = _CURVE_W
    height: float = _CURVE_H
    left: float = _CURVE_LEFT
    bottom: float = _CURVE_H - _CURVE_BOTTOM


def _concurrency_chart(record: Any) -> CurveChart | None:
    curve = [p for p in record.get("curve") or [] if isinstance(p, list) and len(p) == 3] if isinstance(record, dict) else []
    if not curve:
        return None
    span: float = max(float(curve[-1][0]), 1e-9)
    top: int = max(max(int(max(p[1], p[2])) for p in curve), 1)
    plot_w, plot_h = _CURVE_W - _CURVE_LEFT - 10, _CURVE_H - _CURVE_TOP - _CURVE_BOTTOM

    def x(t: float) -> float:
        return round(_CURVE_LEFT + plot_w * float(t) / span, 1)

    def y(v: float) -> float:
        return round(_CURVE_TOP + plot_h * (1 - float(v) / top), 1)

    def steps(column: int) -> str:
        points: list[str] = []
        for p, q in zip(curve, curve[1:] + [curve[-1]]):
            points += [f"{x(p[0])},{y(p[column])}", f"{x(q[0])},{y(p[column])}"]
        return " ".join(points)

    x_ticks = [(x(span * i / 4), f"{span * i / 4:.3g} s") for i in range(5)]
    y_ticks = [(y(v), str(v)) for v in sorted({0, top // 2, top})]
    return CurveChart(str(record.get("model", "")), steps(1), steps(2), x_ticks, y_ticks, record)


def _usage_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One model's tokens and cost as the report shows them (``view``'s words, as in the summary)."""
    currency = record.get("currency")
    return {"model": record.get("model"), "tokens": view.usage_tokens(record),
            "sent": view.usage_tokens(record, "sent"), "journal": view.usage_tokens(record, "journal"),
            "cost": view.money(record.get("cost"), currency),
            "sent_cost": view.money((record.get("sent") or {}).get("cost"), currency),
            "estimated": record.get("estimated") or 0, "replies": record.get("replies") or 0}


# -- the document's rows -------------------------------------------------------------------------


def _rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Subject rows then group rows, each tagged with ``kind`` and ``name`` so templates need not ask."""
    return [{**row, "kind": view.row_kind(row), "name": view.row_key(row)[3]} for row in view.rows(document)]



def _model_label(model: Any) -> str:
    if not isinstance(model, dict):
        return str(model)
    detail = ", ".join(str(model[k]) for k in ("backend", "model") if model.get(k) and model[k] != model.get("name"))
    return f"{model.get('name')} ({detail})" if detail else str(model.get("name"))


def _baseline_path(document: dict[str, Any], run: dict[str, Any]) -> str | None:
    baseline = document.get("baseline")
    if isinstance(baseline, dict) and baseline.get("path"):
        return str(baseline["path"])
    path = (run.get("options") or {}).get("baseline")
    return str(path) if path else None




def _baseline_scores(comparisons: Iterable[dict[str, Any]]) -> dict[Key, float]:
    """Where a baseline mark goes: only comparisons that were actually made have a score to show."""
    return {view.comparison_key(c): float(c["baseline_score"]) for c in comparisons
            if c.get("status") == "compared" and c.get("baseline_score") is not None}


# -- charts ------------------------------------------------------------------------------------------


def _x(value: float) -> float:
    """A score in [0, 1] as an x coordinate; scores outside (a metric that is not a rate) are clamped."""
    return round(_LABEL_W + min(max(value, 0.0), 1.0) * _PLOT_W, 1)


def _maybe_x(value: Any) -> float | None:
    return None if value is None else _x(float(value))


def _suite_charts(rows: list[dict[str, Any]], baselines: dict[Key, float], regressed: set[Key],
                  several_models: bool) -> list[Chart]:
    """One chart per suite, rows in document order (subjects, then groups)."""
    charts = []
    for index, (suite, members) in enumerate(_by_suite(rows).items()):
        bars = [_bar(row, i, baselines, regressed, several_models) for i, row in enumerate(members)]
        charts.append(Chart(suite=suite, id=f"chart-{index}", bars=bars, height=_height(len(members))))
    return charts


def _by_suite(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    suites: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        suites.setdefault(str(row.get("suite")), []).append(row)
    return suites


def _height(count: int) -> float:
    return _TOP + count * _ROW_H + _BOTTOM


def _bar(row: dict[str, Any], index: int, baselines: dict[Key, float], regressed: set[Key],
         several_models: bool) -> Bar:
    key = view.row_key(row)
    label = ("group: " if row["kind"] == "group" else "") + row["name"]
    return Bar(
        label=f"{label} · {row.get('model')}" if several_models else label,
        kind=row["kind"], name=row["name"], model=str(row.get("model")),
        y=_TOP + index * _ROW_H + (_ROW_H - _BAR_H) / 2,
        width=_width(row.get("score")), ci=_interval(row), threshold=_maybe_x(row.get("threshold")),
        baseline=_maybe_x(baselines.get(key)), failing=_failing(row), regressed=key in regressed,
        value=_value_text(row), tooltip=_tooltip(row, baselines.get(key)),
    )


def _failing(row: dict[str, Any]) -> bool:
    """Below its threshold, or more unparsed replies than its limit allows."""
    return row.get("passed") is False or row.get("unparsed_passed") is False


def _width(score: Any) -> float | None:
    return None if score is None else round(_x(float(score)) - _LABEL_W, 1)


def _interval(row: dict[str, Any]) -> tuple[float, float] | None:
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return None
    return (_x(float(row["ci_low"])), _x(float(row["ci_high"])))


def _value_text(row: dict[str, Any]) -> str:
    if row.get("score") is None:
        return f"no score (n={row.get('n', 0)})"
    return (f"{_num(row['score'])} [{_num(row.get('ci_low'))}, {_num(row.get('ci_high'))}] n={row.get('n')}"
            + "".join(f" · {name} {_num(value)}" for name, value in _other_metrics(row)))


def _other_metrics(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """The metrics a row computed besides its score (``mode: cloze``), by name."""
    return [(str(name), value) for name, value in (row.get("metrics") or {}).items() if name != row.get("metric")]


def _tooltip(row: dict[str, Any], baseline: float | None) -> str:
    parts = [f"{row['kind']} {row['name']} · {row.get('model')}", f"score {_num(row.get('score'))}",
             f"95% interval [{_num(row.get('ci_low'))}, {_num(row.get('ci_high'))}]",
             f"{row.get('correct')}/{row.get('n')} correct, {row.get('errors') or 0} errors"]
    if row.get("threshold") is not None:
        parts.append(f"threshold {_num(row['threshold'])}: {'passed' if row.get('passed') else 'FAILED'}")
    if row.get("unparsed") is not None:
        limit = "" if row.get("max_unparsed") is None else (
            f", limit {_num(row['max_unparsed'])}: {'kept' if row.get('unparsed_passed', True) else 'EXCEEDED'}")
        parts.append(f"unparsed {_num(row.get('unparsed_share'))} ({row['unparsed']} without a readable answer{limit})")
    parts += [f"{name} {_num(value)}" for name, value in _other_metrics(row)]
    if baseline is not None:
        parts.append(f"baseline {_num(baseline)}")
    return "\n".join(parts)


def _compare_charts(rows: list[dict[str, Any]], models: list[str]) -> list[Chart]:
    """Grouped bars: per suite, one block per subject or group, one bar per model inside it."""
    charts = []
    for index, (suite, members) in enumerate(_by_suite(rows).items()):
        names = list(dict.fromkeys((r["kind"], r["name"]) for r in members))
        by_key = {(r["kind"], r["name"], r.get("model")): r for r in members}
        bars, separators = [], []
        for block, (kind, name) in enumerate(names):
            top = _TOP + block * len(models) * _ROW_H
            separators.append(top)
            for series, model in enumerate(models):
                row = by_key.get((kind, name, model))
                if row is not None:
                    bars.append(_compare_bar(row, series, top + series * _ROW_H))
        charts.append(Chart(suite=suite, id=f"compare-{index}", bars=bars,
                            height=_height(len(names) * len(models)), separators=separators[1:]))
    return charts


def _compare_bar(row: dict[str, Any], series: int, top: float) -> Bar:
    label = ("group: " if row["kind"] == "group" else "") + row["name"]
    return Bar(
        label=f"{label} · {row.get('model')}", kind=row["kind"], name=row["name"], model=str(row.get("model")),
        y=top + (_ROW_H - _BAR_H) / 2, width=_width(row.get("score")), ci=_interval(row), threshold=None,
        baseline=None, failing=_failing(row), regressed=False, value=_value_text(row),
        tooltip=_tooltip(row, None), series=series,
    )


def _compare_rows(rows: list[dict[str, Any]], models: list[str]) -> list[CompareRow]:
    """Subjects × models; every model with the row's highest score is marked best (ties included)."""
    table: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for suite, members in _by_suite(rows).items():  # suite by suite, like the charts
        for row in members:
            table.setdefault((suite, row["kind"], row["name"]), {})[str(row.get("model"))] = row
    result = []
    for (suite, kind, name), by_model in table.items():
        scores = [r["score"] for r in by_model.values() if r.get("score") is not None]
        best = max(scores) if scores else None
        cells = [_cell(by_model.get(m), best) for m in models]
        result.append(CompareRow(suite=suite, kind=kind, name=name, cells=cells))
    return result


def _cell(row: dict[str, Any] | None, best: Any) -> Cell | None:
    if row is None:
        return None
    interval = "" if row.get("ci_low") is None else f"[{_num(row['ci_low'])}, {_num(row.get('ci_high'))}]"
    return Cell(score=_num(row.get("score")), interval=interval,
                best=best is not None and row.get("score") == best, failing=_failing(row))


# -- latency, flips, samples -------------------------------------------------------------------------


_PERCENTILE_KEY = re.compile(r"^(?P<metric>[a-z0-9]+)_(?P<p>p[0-9.]+)_ms$")


def _latency_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``<metric>_p<q>_ms`` keys laid out as a grid: metric rows, percentile columns."""
    metrics: dict[str, list[str]] = {}
    for row in rows:
        for key in row:
            match = _PERCENTILE_KEY.match(key)
            if match and match["p"] not in metrics.setdefault(match["metric"], []):
                metrics[match["metric"]].append(match["p"])
    percentiles = list(dict.fromkeys(p for ps in metrics.values() for p in ps))
    return {"metrics": list(metrics), "percentiles": percentiles}


def _truncate(text: Any, limit: int = SAMPLE_TEXT_LIMIT) -> tuple[Any, bool]:
    """Bound one prompt or reply to its start and its end, saying so in the text itself.

    The end is kept longer: it holds the question of a prompt and the final answer of a reply
    (the last "answer is" counts), which a reader checking a miss needs most.
    """
    if not isinstance(text, str) or len(text) <= limit:
        return text, False
    head, tail = limit // 4, limit - limit // 4
    cut = _TRUNCATED.format(cut=len(text) - head - tail, n=len(text))
    return text[:head] + cut + text[-tail:], True


def _short_flip(flip: dict[str, Any]) -> dict[str, Any]:
    short = dict(flip) | {"now": flip_now(flip)}
    for key in ("prompt", "reply", "baseline_reply"):
        short[key] = _truncate(flip.get(key))[0]
    return short


def _status(sample: Mapping[str, Any]) -> str:
    if sample.get("error"):
        return "error"
    return "correct" if sample.get("correct") else "miss"


def _sample_row(sample: Mapping[str, Any]) -> list[Any]:
    """One row of the embedded table; the prompt is cut later, after its shared prefix is taken off."""
    cut = {"reply": _truncate(sample.get("reply")),  # an exact_match answer can be long: the reply shows it whole
           **{key: _truncate(sample.get(key), _ANSWER_LIMIT) for key in ("extracted", "target")}}
    latency = sample.get("latency_s")
    values = {**sample, **{key: text for key, (text, _) in cut.items()}, "status": _status(sample),
              "unparsed": bool(sample.get("unparsed")) and not sample.get("error"),
              "truncated": any(was_cut for _, was_cut in cut.values()),
              "latency_s": latency if isinstance(latency, (int, float)) and math.isfinite(latency) else None}
    return [values.get(column) for column in SAMPLE_COLUMNS]


def _share_prefixes(rows: list[list[Any]]) -> list[str]:
    """Store each (suite, subject)'s common prompt prefix once; rows keep the rest and its index.

    Prompts of one subject share their preamble and few-shot examples, most of a 5-shot prompt:
    kept once, they stay whole (the questions after them are never cut away) and a 15,000-sample
    MMLU page is a few megabytes. The page joins them back.
    """
    groups: dict[tuple[Any, Any], list[list[Any]]] = {}
    for row in rows:
        groups.setdefault((row[_COL["suite"]], row[_COL["subject"]]), []).append(row)
    prefixes = [""]
    for members in groups.values():
        common = _common_prefix([r[_COL["prompt"]] for r in members])
        for r in members:
            r[_COL["prefix"]] = len(prefixes) if common else 0
            r[_COL["prompt"]] = r[_COL["prompt"]][len(common):] if common else r[_COL["prompt"]]
        prefixes += [common] if common else []
    return prefixes


def _common_prefix(prompts: list[Any]) -> str:
    """What every prompt starts with; nothing for a lone prompt, a missing one, or a prefix too long to keep."""
    if len(prompts) < 2 or not all(isinstance(p, str) for p in prompts):
        return ""
    common = os.path.commonprefix(prompts)
    return common if len(common) <= _PREFIX_LIMIT else ""


def _cut_prompt(row: list[Any]) -> None:
    """Cut what is left of a prompt once its shared prefix is off, like a reply."""
    row[_COL["prompt"]], cut = _truncate(row[_COL["prompt"]])
    row[_COL["truncated"]] = row[_COL["truncated"]] or cut



def _samples_json(samples: Sequence[Mapping[str, Any]]) -> str:
    """Columns plus rows (not one object per sample: the keys repeated 15,000 times are megabytes).

    ``<``, ``>`` and ``&`` become JSON ``\\u`` escapes, so no prompt can close the ``<script>``
    element (``</script>``) or open an HTML comment inside it; JSON.parse reads them back unchanged.
    """
    rows = [_sample_row(s) for s in samples]
    prefixes = _share_prefixes(rows)
    for row in rows:
        _cut_prompt(row)
    data = {"columns": SAMPLE_COLUMNS, "prefixes": prefixes, "rows": rows, "missing": view.MISSING}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


# -- formatting filters ------------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    """A number for people: fixed digits, ``view.MISSING`` for null (nothing scored, not compared)."""
    if value is None or isinstance(value, bool):
        return view.MISSING if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return view.MISSING
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)} min {rest:.1f} s" if minutes else f"{rest:.1f} s"
