"""The GitHub step summary: what it says, that run text cannot break it, and that it stays under 1 MiB.

Tables and code blocks are read back with markdown-it-py (CommonMark plus the GFM table rule, as
GitHub renders them) where it is installed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.report.markdown import (
    MAX_FLIPS,
    MAX_ROWS,
    STEP_SUMMARY_LIMIT,
    append_step_summary,
    code_block,
    escape_cell,
    escape_inline,
    render_markdown,
)
from tests.e2e import mc_replies, quiz_report_with_a_failing_subject, read_results, read_samples

HOSTILE = "a|b `c` **d** <b>&amp; ]]> \x01 数学 $x$ [l](u) \\| # -\r\nnext"


def row(model: str = "m", name: str = "geo", kind: str = "subject", score: float | None = 0.5,
        threshold: float | None = 0.5, passed: bool = True, suite: str = "quiz") -> dict[str, Any]:
    interval = (None, None) if score is None else (max(0.0, score - 0.3), min(1.0, score + 0.3))
    return {"model": model, "suite": suite, kind: name, "version": "3f2a9c1d", "n": 2, "correct": 1, "score": score,
            "ci_low": interval[0], "ci_high": interval[1], "threshold": threshold, "passed": passed, "errors": 0}


def document(*rows: dict[str, Any], models: tuple[str, ...] = ("m",), **extra: Any) -> dict[str, Any]:
    return {"run": {"models": [{"name": m} for m in models], "options": {}},
            "subjects": [r for r in rows if "subject" in r], "groups": [r for r in rows if "group" in r], **extra}


def comparison(name: str, delta: float | None, p: float | None, regressed: bool, status: str = "compared",
               kind: str = "subject") -> dict[str, Any]:
    return {"kind": kind, "model": "m", "baseline_model": "old", "suite": "quiz", "name": name, "status": status,
            "n_paired": 10, "baseline_score": 0.9, "score": None if delta is None else 0.9 + delta, "delta": delta,
            "right_to_wrong": 4, "wrong_to_right": 0, "p_value": p, "regressed": regressed}


def flip(i: int, direction: str = "right_to_wrong", prompt: str = "Red planet?", reply: str = "D") -> dict[str, Any]:
    return {"direction": direction, "model": "m", "baseline_model": "old", "suite": "quiz", "subject": "sci",
            "id": f"q{i}", "prompt": prompt, "target": "A", "reply": reply, "extracted": "D",
            "baseline_reply": "A", "baseline_extracted": "A"}


def table(text: str) -> list[list[str]]:
    """Every table row's cells as GitHub shows them (``<br>`` as a newline), header first."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    rows: list[list[str]] = []
    for before, token in itertools.pairwise(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and before.type in ("th_open", "td_open"):
            rows[-1].append(_shown(token.children or []))
    return rows


def _shown(children: list[Any]) -> str:
    return "".join("\n" if c.type == "html_inline" and c.content == "<br>" else c.content for c in children)


def fences(text: str) -> list[str]:
    markdown_it = pytest.importorskip("markdown_it")
    return [t.content for t in markdown_it.MarkdownIt("commonmark").parse(text) if t.type == "fence"]


ONE_MODEL = document(
    row(name="geo", score=0.5, threshold=0.6, passed=False), row(name="sci", score=1.0),
    row(kind="group", name="all", score=0.75, threshold=None),
    verdict={"passed": False, "failures": ["threshold not met: m quiz/geo 0.500 < 0.600 (n=2)"]},
)


def test_one_model() -> None:
    text = render_markdown(ONE_MODEL, [])
    assert text.startswith("## ❌ llmeval failed: m\n")
    assert table(text) == [
        ["suite / subject", "score", "95% CI", "threshold", "verdict"],
        ["quiz/geo", "0.500", "[0.200, 0.800]", "0.600", "❌"],
        ["quiz/sci", "1.000", "[0.700, 1.000]", "0.500", "✅"],
        ["quiz/all (group)", "0.750", "[0.450, 1.000]", "—", "—"],
    ]
    assert "### Failures\n\n- threshold not met\\: m quiz\\/geo 0\\.500 \\< 0\\.600 \\(n\\=2\\)" in text
    assert "Regressions" not in text and "flips" not in text and text.endswith("\n")
    passed = render_markdown({**ONE_MODEL, "verdict": {"passed": True, "failures": []}})
    assert passed.startswith("## ✅ llmeval passed: m\n") and "Failures" not in passed


def test_two_models_get_a_column_group_each() -> None:
    doc = document(row(model="beta"), row(model="alpha", passed=False, threshold=0.9), row(model="beta", name="sci"),
                   models=("beta", "alpha"))
    rows = table(render_markdown(doc))
    assert rows[0] == ["suite / subject", *(f"{m} {t}" for m in ("beta", "alpha") for t in ("score", "95% CI", "threshold", "verdict"))]
    assert rows[1] == ["quiz/geo", "0.500", "[0.200, 0.800]", "0.500", "✅", "0.500", "[0.200, 0.800]", "0.900", "❌"]
    assert rows[2] == ["quiz/sci", "0.500", "[0.200, 0.800]", "0.500", "✅", "—", "—", "—", "—"]
    assert render_markdown(doc).startswith("## ❌ llmeval failed: beta, alpha\n")  # no verdict key: read from the rows


def test_a_baseline_adds_delta_and_p_with_regressions_in_bold() -> None:
    regressed = comparison("geo", -0.4, 0.0078, regressed=True)
    doc = document(row(name="geo"), row(name="sci"), row(name="new"), row(kind="group", name="all"),
                   baseline={"path": "base|line.json", "models": ["old"]},
                   comparisons=[regressed, comparison("sci", 0.02, 0.5, False),
                                comparison("new", None, None, False, status="not_comparable")],
                   regressions=[regressed], verdict={"passed": False, "failures": ["regression: m quiz/geo"]})
    text = render_markdown(doc)
    assert "Compared with the baseline base\\|line\\.json (old)." in text
    assert "| quiz\\/geo | 0.500 | [0.200, 0.800] | 0.500 | ❌ | **-0.400** | **0.0078** |" in text
    rows = table(text)
    assert rows[0][-2:] == ["Δ", "p"]
    assert rows[1:] == [["quiz/geo", "0.500", "[0.200, 0.800]", "0.500", "❌", "-0.400", "0.0078"],
                        ["quiz/new", "0.500", "[0.200, 0.800]", "0.500", "✅", "not comparable", "—"],
                        ["quiz/sci", "0.500", "[0.200, 0.800]", "0.500", "✅", "+0.020", "0.5"],
                        ["quiz/all (group)", "0.500", "[0.200, 0.800]", "0.500", "✅", "—", "—"]]
    assert ("### Regressions\n\n- **m quiz\\/geo**: 0.500 vs 0.900 for old over 10 paired samples, "
            "Δ -0.400, p 0.0078 (4 right → wrong, 0 wrong → right)") in text


def test_flips_fold_into_details_with_the_first_ten() -> None:
    flips = [flip(i) for i in range(12)] + [flip(99, direction="wrong_to_right")]
    flips[0] = flip(0, prompt="a ``` b\n```\n| x |", reply="`D`")
    text = render_markdown(document(row(), flips=flips))
    details = text[text.index("<details>"):]
    assert details.startswith("<details>\n<summary>10 of 12 right → wrong flips</summary>\n\n")
    assert details.count("#### ") == MAX_FLIPS and "q99" not in text and "q10" not in text
    assert "2 more right → wrong flips are in results.json" in text and text.rstrip().endswith("</details>")
    assert "#### m quiz\\/sci q0: target A, was A, now D" in text
    shown = fences(text)
    assert len(shown) == 3 * MAX_FLIPS
    assert shown[:3] == ["a ``` b\n```\n| x |\n", "`D`\n", "A\n"]


def test_a_document_without_the_newer_keys() -> None:
    old = document(row(), row(name="sci", passed=False, threshold=0.9))
    explicit = {**old, "verdict": None, "comparisons": None, "regressions": None, "flips": None, "baseline": None}
    for doc in (old, explicit):
        text = render_markdown(doc)
        assert text.startswith("## ❌ llmeval failed: m\n") and "Δ" not in text and "Failures" not in text
    assert render_markdown(document(row())).startswith("## ✅ llmeval passed: m")
    for empty in ({}, {"run": None, "subjects": None, "groups": None}):
        assert render_markdown(empty) == "## ✅ llmeval passed: no models\n\nNo llmeval results.\n"


def test_hostile_names_stay_in_their_cells_and_render_literally() -> None:
    doc = document(row(name=HOSTILE), row(kind="group", name="理科|文科"), models=("m|1",))
    doc["subjects"][0]["model"] = doc["groups"][0]["model"] = "m|1"
    text = render_markdown(doc)
    rows = table(text)
    assert all(len(r) == 5 for r in rows)
    assert rows[1][0] == "quiz/" + HOSTILE.replace("\r\n", "\n") and rows[2][0] == "quiz/理科|文科 (group)"
    assert text.startswith("## ✅ llmeval passed: m\\|1\n")


def test_big_tables_keep_failing_rows_and_say_what_they_left_out() -> None:
    rows = [row(name=f"s{i:03}") for i in range(MAX_ROWS + 100)]
    rows[-1] = row(name="s999", passed=False, threshold=0.9)
    text = render_markdown(document(*rows))
    shown = table(text)[1:]
    assert len(shown) == MAX_ROWS and shown[-1][0] == "quiz/s999" and shown[0][0] == "quiz/s000"
    assert "_100 more rows not shown; results.json has them all._" in text


def test_the_summary_stays_under_githubs_limit() -> None:
    failures = [f"threshold not met: {'x' * 5000}"] * 500
    flips = [flip(i, prompt="问" * 100_000, reply="`" * 100_000) for i in range(50)]
    huge = document(row(), verdict={"passed": False, "failures": failures}, flips=flips)
    text = render_markdown(huge)
    assert len(text.encode("utf-8")) < STEP_SUMMARY_LIMIT
    assert "450 more failure lines not shown" in text and "40 more right → wrong flips" in text
    models = tuple(f"{'m' * 300_000}{i}" for i in range(3))
    wide = document(*(row(model=m) for m in models), models=models)
    text = render_markdown(wide)
    assert len(text.encode("utf-8")) < STEP_SUMMARY_LIMIT and "1 MiB" in text


def test_append_step_summary_appends_and_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "step_summary.md"
    append_step_summary(path, ONE_MODEL)
    assert path.read_text(encoding="utf-8") == render_markdown(ONE_MODEL)
    path.write_text("# an earlier step\n", encoding="utf-8")
    append_step_summary(path, ONE_MODEL, [])
    append_step_summary(path, ONE_MODEL, [])
    text = path.read_text(encoding="utf-8")
    assert text == "# an earlier step\n\n" + render_markdown(ONE_MODEL) + "\n" + render_markdown(ONE_MODEL)


def test_lone_surrogates_from_json_do_not_stop_the_summary(tmp_path: Path) -> None:
    doc = document(row(name="a\ud800b"), flips=[flip(1, prompt="x\udfffy")])
    append_step_summary(tmp_path / "summary.md", doc)
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "a?b" in text and "x?y" in text


@given(st.text())
def test_any_text_stays_in_one_cell(text: str) -> None:
    rows = table(f"| a | b | c |\n| - | - | - |\n| x | {escape_cell(text)} | y |\n")
    assert len(rows) == 2 and rows[1][0] == "x" and rows[1][2] == "y"
    assert rows[1][1].strip() == _as_shown(text).strip()  # a cell's outer white space is not shown


@given(st.text())
def test_any_text_is_literal_inline(text: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").parse(f"- {escape_inline(text)}\n")
    inline = [t for t in tokens if t.type == "inline"]
    shown = "".join(_shown(t.children or []) for t in inline)
    assert [t.type for t in tokens if t.type.endswith("_open")] in (
        ["bullet_list_open", "list_item_open", "paragraph_open"], ["bullet_list_open", "list_item_open"])
    assert shown.strip() == _as_shown(text).replace("\n", " ").strip()


@given(st.text())
def test_any_text_round_trips_through_a_code_block(text: str) -> None:
    shown = fences(f"before\n\n{code_block(text)}\n\nafter\n")
    expected = _as_shown(text)
    assert shown == [expected + ("" if expected.endswith("\n") or not expected else "\n")]


def _as_shown(text: str) -> str:
    """What CommonMark shows of ``text``: line ends as ``\\n``, NUL as U+FFFD."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


def test_end_to_end_from_a_real_run(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    out = quiz_report_with_a_failing_subject(pytester, fake_openai_factory(replies=mc_replies(), default_reply="no idea"))
    summary = out / "step_summary.md"
    append_step_summary(summary, read_results(out), read_samples(out))
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## ❌ llmeval failed: test\\-model\n")
    rows = table(text)
    assert [r[0] for r in rows[1:]] == ["quiz/geo", "quiz/sci", "quiz/everything (group)"]
    assert rows[0] == ["suite / subject", "score", "95% CI", "unparsed", "threshold", "verdict"]
    assert rows[2][1:] == [rows[2][1], rows[2][2], "0.000", "0.900", "❌"] and rows[2][1] == "0.667"
    assert rows[1][5] == "✅" and rows[3][5] == "—"


def test_a_cloze_row_shows_its_other_metrics() -> None:
    """``mode: cloze`` rows carry every metric; the score column is the suite's one, the rest follow."""
    cloze = {**row(name="geo"), "metric": "acc_norm", "metrics": {"acc": 0.25, "acc_norm": 0.5, "acc_bytes": 0.5}}
    text = render_markdown(document(cloze, row(name="sci")), [])
    assert table(text) == [
        ["suite / subject", "score", "95% CI", "threshold", "verdict", "other metrics"],
        ["quiz/geo", "0.500", "[0.200, 0.800]", "0.500", "✅", "acc 0.250 · acc_bytes 0.500"],
        ["quiz/sci", "0.500", "[0.200, 0.800]", "0.500", "✅", "—"],
    ]
