"""report.html: the rendered markup (escaping, chart elements, sections) and, in headless Chromium,
the page as a person opens it (charts drawn, search works, no errors, nothing loaded from outside)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2  # noqa: F401 (imported before any pytester run, which would otherwise drop it from sys.modules)
import pytest

from pytest_llmeval.report import view
from pytest_llmeval.report.html import PAGE_SIZE, SAMPLE_TEXT_LIMIT, render_html, write_html
from tests.browser import browser, open_report, requires_chromium  # noqa: F401 (browser is a fixture)
from tests.e2e import mc_replies, read_results, read_samples, server_args, write_mc_suite

EVIL = "</script><script>alert(1)</script> and <b>bold</b>"


# -- documents built by hand -------------------------------------------------------------------------


def row(model: str, suite: str, name: str, score: float | None, *, kind: str = "subject",
        threshold: float | None = 0.5, n: int = 10, **extra: Any) -> dict[str, Any]:
    passed = None if threshold is None else (score is not None and score >= threshold)
    record = {"model": model, "suite": suite, kind: name, "version": "3f2a9c1d", "n": n,
              "correct": None if score is None else round(score * n), "score": score,
              "ci_low": None if score is None else max(score - 0.2, 0.0),
              "ci_high": None if score is None else min(score + 0.2, 1.0),
              "threshold": threshold, "passed": passed, "metric": "accuracy", "mode": "gen",
              "task": "multiple_choice", "errors": 0}
    if kind == "group":
        record.update(aggregate="weighted", score_weighted=score, score_naive=score, members=["geo", "sci"])
    return {**record, **extra}


def document(models: tuple[str, ...] = ("alpha",), **extra: Any) -> dict[str, Any]:
    """Two suites; quiz has geo (passes), sci (fails) and a group; 数学 has one subject, no threshold."""
    subjects, groups = [], []
    for i, model in enumerate(models):
        subjects += [row(model, "quiz", "geo", 0.9 - 0.1 * i), row(model, "quiz", "sci", 0.3 + 0.3 * i),
                     row(model, "数学", "代数", 0.75, threshold=None)]
        groups.append(row(model, "quiz", "everything", 0.6, kind="group"))
    return {
        "run": {"models": [{"name": m, "backend": "openai", "model": f"{m}-ckpt"} for m in models],
                "options": {"gate": "score", "baseline": None}, "versions": {"pytest_llmeval": "0.1.0"},
                "started": "2026-11-24T21:00:00+00:00", "duration_s": 72.5},
        "verdict": {"passed": False, "failures": ["threshold not met: alpha quiz sci 0.300 < 0.5"]},
        "subjects": subjects, "groups": groups, "latency": [], **extra,
    }


def comparison(name: str, status: str = "compared", kind: str = "subject", **extra: Any) -> dict[str, Any]:
    compared = status == "compared"
    record = {"kind": kind, "model": "alpha", "baseline_model": "old", "suite": "quiz", "name": name,
              "status": status, "reason": None if compared else "version 3f2a9c1d in the baseline, 9b1c0e2a now",
              "version": "9b1c0e2a", "baseline_version": "3f2a9c1d", "n_paired": 10 if compared else None,
              "baseline_score": 0.8 if compared else None, "score": 0.3 if compared else None,
              "delta": -0.5 if compared else None, "right_to_wrong": 5 if compared else None,
              "wrong_to_right": 0 if compared else None, "p_value": 0.0625 if compared else None,
              "significant": False, "regressed": False, "improved": False}
    return {**record, **extra}


def flip(id: str, direction: str = "right_to_wrong", prompt: str = "Capital of France?") -> dict[str, Any]:
    return {"direction": direction, "model": "alpha", "baseline_model": "old", "suite": "quiz", "subject": "sci",
            "id": id, "prompt": prompt, "target": "A", "reply": "I think it is D", "extracted": "D",
            "baseline_reply": "A", "baseline_extracted": "A"}


def with_baseline() -> dict[str, Any]:
    sci = comparison("sci", regressed=True, significant=True, p_value=0.03)
    comparisons = [comparison("geo"), sci, comparison("everything", "not_comparable", kind="group")]
    return document(
        baseline={"path": "baselines/main.json", "created": "2026-11-01T00:00:00+00:00", "models": ["old"]},
        comparisons=comparisons, regressions=[sci],
        flips=[flip("q6", prompt=EVIL), flip("q2", "wrong_to_right")],
    )


def sample(id: str, subject: str = "geo", *, model: str = "alpha", correct: bool | None = True,
           error: str | None = None, prompt: str | None = None, reply: str = "B", unparsed: bool = False) -> dict[str, Any]:
    read = None if error or unparsed else reply
    rule = None if error else "echoed options" if unparsed else "opening letter"
    return {"model": model, "suite": "quiz", "subject": subject, "id": id, "version": "3f2a9c1d",
            "prompt": prompt if prompt is not None else f"Question {id}: which is right?\nA. x\nB. y\nAnswer:",
            "reply": reply, "extracted": read, "rule": rule, "unparsed": unparsed, "target": "B",
            "correct": correct and not unparsed if correct is not None else None,
            "error": error, "latency_s": 0.25, "prompt_tokens": 12, "completion_tokens": 1}


def samples(count: int) -> list[dict[str, Any]]:
    """``count`` samples: every 7th a miss (every 21st of them unparsed), every 50th an error, one
    needle and one hostile prompt."""
    made = []
    for i in range(count):
        error = "HTTP 500" if i % 50 == 49 else None
        made.append(sample(f"s{i}", "sci" if i % 2 else "geo", correct=None if error else i % 7 != 0, error=error,
                           unparsed=i % 21 == 0 and not error, reply="A. x\nB. y" if i % 21 == 0 else "B"))
    made[3]["prompt"] = "Which river flows through 北京? needle"
    made[4]["prompt"] = EVIL
    return made


# -- reading the markup --------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every start tag with its attributes, and the raw text of each <script>, in document order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "script":
            self._in_script = True
            self.scripts.append((self.tags[-1][1], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] = (self.scripts[-1][0], self.scripts[-1][1] + data)

    def find(self, tag: str, css: str = "", **attrs: str) -> list[dict[str, str]]:
        found = []
        for name, values in self.tags:
            classes = values.get("class", "").split()
            if name == tag and (not css or css in classes) and all(values.get(k) == v for k, v in attrs.items()):
                found.append(values)
        return found


def embedded_samples(page: Elements) -> dict[str, Any]:
    (script,) = [text for attrs, text in page.scripts if attrs.get("id") == "samples-data"]
    return json.loads(script)


def embedded_prompts(data: dict[str, Any]) -> list[str]:
    """Each prompt whole again: its subject's shared prefix plus the rest, as the page's script joins them."""
    prefix, prompt = data["columns"].index("prefix"), data["columns"].index("prompt")
    return [data["prefixes"][r[prefix]] + r[prompt] for r in data["rows"]]


def rendered(doc: dict[str, Any], records: list[dict[str, Any]] | None = None) -> tuple[str, Elements]:
    text = render_html(doc, records if records is not None else samples(20))
    return text, Elements(text)


# -- markup ------------------------------------------------------------------------------------------


def test_one_model_draws_a_chart_per_suite_with_bars_intervals_and_thresholds() -> None:
    text, page = rendered(document())
    charts = page.find("svg", "chart")
    assert [c["data-suite"] for c in charts] == ["quiz", "数学"]
    assert len(page.find("rect", "bar")) == 4 and len(page.find("line", "ci")) == 4
    assert len(page.find("line", "threshold")) == 3  # 代数 has no threshold
    assert page.find("line", "baseline") == []
    assert [g["data-name"] for g in page.find("g", "fail")] == ["sci"]
    assert [r["class"] for r in page.find("rect", "bar")][1] == "bar series-0 fail"
    assert page.find("p", id="one-model") and not page.find("table", id="model-table")
    assert "No baseline for this run" in text and "No flipped samples (no baseline)" in text
    assert '<meta charset="utf-8">' in text and "<title>pytest-llmeval report: alpha</title>" in text


def test_header_shows_verdict_models_gate_and_duration() -> None:
    text, page = rendered(document(("alpha",), run={
        **document()["run"], "options": {"gate": "ci_low", "baseline": "base.json"}, "shards": ["1/2", "2/2"]}))
    assert page.find("p", "fail", id="verdict")
    assert "threshold not met: alpha quiz sci 0.300 &lt; 0.5" in text
    assert "alpha (openai, alpha-ckpt)" in text and "1 min 12.5 s" in text
    assert re.search(r'id="gate">ci_low<', text) and re.search(r'id="baseline-path">base.json<', text)
    assert re.search(r'id="shards">1/2, 2/2<', text)
    passing = render_html({**document(), "verdict": {"passed": True, "failures": [], "notes": ["no baseline <x>"]}}, [])
    assert 'class="verdict pass"' in passing and 'id="failures"' not in passing
    assert "<li>no baseline &lt;x&gt;</li>" in passing


def test_two_models_get_a_table_with_the_best_cell_and_grouped_bars() -> None:
    text, page = rendered(document(("alpha", "beta")))
    assert page.find("table", id="model-table") and not page.find("p", id="one-model")
    # geo (alpha 0.9 > beta 0.8) and sci (beta 0.6 > alpha 0.3) have one best each; 代数 and the group tie.
    assert len(page.find("td", "best")) == 1 + 1 + 2 + 2
    table = text[text.index('id="model-table"'):text.index("</table>", text.index('id="model-table"'))]
    assert table.index("group: everything") < table.index("代数")  # suite by suite, like the charts
    compare = page.find("svg", "compare-chart")
    assert [c["data-suite"] for c in compare] == ["quiz", "数学"]
    assert len(page.find("rect", "bar")) == 2 * 8  # the per-suite charts plus the grouped ones
    assert {g["data-model"] for g in page.find("g", "row")} == {"alpha", "beta"}


def test_comparisons_regressions_and_flips() -> None:
    text, page = rendered(with_baseline())
    assert len(page.find("line", "baseline")) == 2  # geo and sci were compared; the group was not
    assert [g["data-name"] for g in page.find("g", "regressed")] == ["sci"]
    assert len(page.find("tr", "regressed")) == 1 and len(page.find("tr", "not_comparable")) == 1
    assert "version 3f2a9c1d in the baseline, 9b1c0e2a now" in text and "0.0300" in text
    assert re.search(r"1 regressed;\s+2 of 3\s+rows compared", text)
    assert len(page.find("tr", "right_to_wrong")) == 1 and len(page.find("tr", "wrong_to_right")) == 1
    assert re.search(r'id="baseline-path">baselines/main.json<', text)


def test_unparsed_shares_limits_and_the_split_of_flips() -> None:
    doc = with_baseline()
    doc["subjects"][0] |= {"unparsed": 1, "unparsed_share": 0.1, "max_unparsed": 0.05, "unparsed_passed": False}
    doc["subjects"][1] |= {"unparsed": 0, "unparsed_share": 0.0, "max_unparsed": 0.05, "unparsed_passed": True}
    doc["comparisons"][1] |= {"right_to_wrong_answer": 3, "right_to_unparsed": 2}
    doc["flips"][0]["now"] = "unparsed"
    text, page = rendered(doc)
    table = page.find("table", id="unparsed-table")
    assert table and len(page.find("tr", "fail", **{"data-name": "geo"})) == 1  # over its limit
    assert re.search(r'class="share">0.100<', text) and "0.050 exceeded" in text
    assert "unparsed 0.100 (1 without a readable answer, limit 0.050: EXCEEDED)" in text  # the bar's tooltip
    assert page.find("g", "fail", **{"data-name": "geo"})  # a bar over its unparsed limit is drawn failing
    assert re.search(r"<td>5</td><td>3</td>\s*<td>2</td><td>0</td>", text)  # R→W, wrong answer, unparsed, W→R
    assert page.find("tr", "flip", **{"data-now": "unparsed"}) and "right → unparsed" in text
    data = embedded_samples(page)
    rule, unparsed = data["columns"].index("rule"), data["columns"].index("unparsed")
    assert {r[rule] for r in data["rows"]} == {"opening letter", "echoed options"}
    assert sum(r[unparsed] for r in data["rows"]) == 1  # s0 of the 20
    assert [o["value"] for o in page.find("option") if o.get("value") in ("echoed options", "opening letter")] == [
        "echoed options", "opening letter"]


def test_without_unparsed_counts_there_is_no_unparsed_section() -> None:
    text, _ = rendered(document())
    assert 'id="unparsed-table"' not in text and 'href="#unparsed"' not in text


def test_a_document_without_baseline_keys_or_run_renders() -> None:
    bare = {"subjects": [row("m", "quiz", "geo", None, n=0)], "groups": []}
    text, page = rendered(bare, [])
    assert page.find("svg", "chart") and page.find("rect", "bar") == [] and page.find("line", "ci") == []
    assert "no score (n=0)" in text and "no verdict in this document" in text
    assert 'id="latency"' not in text
    text, page = rendered({}, [])
    assert "No rows in this document." in text and page.find("svg", "chart") == []


def test_hostile_text_is_escaped_everywhere() -> None:
    doc = with_baseline()
    doc["subjects"][0]["subject"] = "<b>geo</b>"
    records = samples(10)
    text, page = rendered(doc, records)
    assert "<b>" not in text and "alert(1)</script>" not in text.replace("&lt;/script&gt;", "")
    assert text.count("<script") == 2  # the JSON block and the page's own script, nothing injected
    assert "&lt;b&gt;geo&lt;/b&gt;" in text
    assert EVIL in embedded_prompts(embedded_samples(page))  # JSON.parse (json.loads here) reads it back unchanged


def test_long_prompts_and_replies_keep_their_start_and_end() -> None:
    prompt, reply = "start " + "x" * 10_000 + " question?", "y" * SAMPLE_TEXT_LIMIT + " ANSWER: B"
    records = [sample("long", prompt=prompt, reply=reply), sample("short", "sci")]
    data = embedded_samples(rendered(document(), records)[1])
    reply_at, cut_at = data["columns"].index("reply"), data["columns"].index("truncated")
    (long_prompt, _), (long, short) = embedded_prompts(data), data["rows"]
    assert long_prompt.startswith("start xxx") and long_prompt.endswith("xxx question?")
    assert "[truncated: 6016 of 10016 characters cut here]" in long_prompt
    assert long[reply_at].endswith("yyy ANSWER: B") and "[truncated: 10 of 4010 characters cut here]" in long[reply_at]
    assert len(long_prompt) < SAMPLE_TEXT_LIMIT + 80 and long[cut_at] is True and short[cut_at] is False
    extracted = long[data["columns"].index("extracted")]  # sample() extracts the whole reply
    assert len(extracted) < 500 and extracted.endswith("yyy ANSWER: B") and "characters cut here" in extracted


def test_a_long_shared_few_shot_block_stays_whole_and_the_questions_too() -> None:
    block = "Q: Capital of Peru?\nA: Lima\n\n" * 300  # 9,000 characters, shared by every prompt
    records = [sample(f"f{i}", prompt=f"{block}Q: question {i}?\nA:") for i in range(3)]
    data = embedded_samples(rendered(document(), records)[1])
    assert embedded_prompts(data) == [r["prompt"] for r in records]
    assert not any(r[data["columns"].index("truncated")] for r in data["rows"])


FEW_SHOT = "The following are questions about geography.\n\n" + "Q: Capital of Peru?\nA: Lima\n\n" * 20


def few_shot_samples() -> list[dict[str, Any]]:
    """One subject's prompts: the same few-shot block, then each question."""
    questions = ["Chad?", "Chile?", "China?"]
    return [sample(f"f{i}", prompt=f"{FEW_SHOT}Q: Capital of {q}\nA:") for i, q in enumerate(questions)]


def test_a_subjects_common_prompt_prefix_is_stored_once() -> None:
    records = few_shot_samples() + [sample("other", "sci", prompt=FEW_SHOT + "unlike the rest")]
    text, page = rendered(document(), records)
    data = embedded_samples(page)
    assert embedded_prompts(data) == [r["prompt"] for r in records]
    assert data["prefixes"] == ["", FEW_SHOT + "Q: Capital of Ch"]  # sci has one sample: nothing to share
    assert text.count("Capital of Peru") == 20 * 2  # the geo prefix once, the lone sci prompt once


def test_a_retried_sample_shows_once_with_its_last_reply() -> None:
    first, retried = sample("q1", correct=False, reply="A"), sample("q1", reply="B")
    data = embedded_samples(rendered(document(), [first, sample("q2"), retried])[1])
    ids = [(r[data["columns"].index("id")], r[data["columns"].index("reply")]) for r in data["rows"]]
    assert ids == [("q1", "B"), ("q2", "B")]


def test_latency_block_only_when_measured() -> None:
    latency = [{"model": "alpha", "n": 20, "cached_excluded": 2, "streamed": True, "duration_s": 3.5,
                "request_throughput": 5.71, "output_throughput": 120.5, "concurrency": 3.2, "output_tokens": 420,
                "ttft_p50_ms": 212.4, "ttft_p90_ms": 348.0, "ttft_p99_ms": 455.1, "e2e_p50_ms": 1031.6,
                "e2e_p90_ms": None, "e2e_p99_ms": 1690.2}]
    text, page = rendered(document(latency=latency))
    assert page.find("table", id="latency-table") and page.find("table", id="latency-percentiles")
    assert "212.4" in text and "TTFT" in text and "E2E" in text and "5.71" in text
    assert 'id="latency"' not in rendered(document())[0]


def test_concurrency_chart_only_with_an_adaptive_limit() -> None:
    curve = [[0.0, 4, 1], [0.5, 8, 8], [1.0, 16, 9], [1.5, 7, 7], [2.0, 8, 8]]
    record = {"model": "alpha", "start": 4, "final_limit": 8, "max_limit": 16, "peak_in_flight": 9,
              "mean_in_flight": 6.2, "sent": 90, "overloaded": 2, "cuts": 1, "curve": curve}
    doc = document()
    doc["run"]["concurrency"] = [record]
    text, page = rendered(doc)
    (svg,) = page.find("svg", "concurrency-chart")
    assert svg["data-model"] == "alpha"
    (limit,), (flight,) = page.find("polyline", "limit"), page.find("polyline", "in-flight")
    assert len(limit["points"].split()) == len(flight["points"].split()) == 2 * len(curve)  # steps
    assert "mean in flight 6.2" in " ".join(re.sub(r"<[^>]+>", " ", text).split())
    assert 'id="concurrency"' not in rendered(document())[0]


def test_the_page_loads_nothing_from_outside() -> None:
    text, _ = rendered(with_baseline())
    assert not re.search(r"\b(src|href)\s*=\s*\"(?!#)", text)
    assert "http://" not in text and "https://" not in text and "url(" not in text and "@import" not in text


def test_write_html_is_atomic_utf8(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(path, document(), samples(5))
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert "数学" in path.read_text(encoding="utf-8")


def test_importing_the_module_does_not_import_jinja2() -> None:
    code = "import sys, pytest_llmeval.report.html; print('jinja2' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


# -- in Chromium ---------------------------------------------------------------------------------------


@pytest.fixture
def baseline_page(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    write_html(path, with_baseline(), samples(450))
    return path


@requires_chromium
def test_browser_draws_the_charts_without_errors(browser, baseline_page: Path) -> None:  # noqa: F811
    with open_report(browser, baseline_page) as opened:
        assert opened.page.title() == "pytest-llmeval report: alpha"
        assert opened.count("svg.chart") == 2
        assert opened.count('svg.chart[data-suite="quiz"] rect.bar') == 3
        assert opened.count('svg.chart[data-suite="数学"] rect.bar') == 1
        assert opened.count("svg.chart line.threshold") == 3 and opened.count("svg.chart line.baseline") == 2
        assert opened.count("svg.chart line.ci") == 4
        box = opened.page.locator('svg.chart[data-suite="quiz"] rect.bar').first.bounding_box()
        assert box is not None and box["width"] > 10 and box["height"] > 5  # drawn, not just present
        assert "数学" in opened.page.inner_text("#scores")
        assert opened.page.inner_text("#verdict").strip() == "FAIL"
        opened.assert_clean()


@requires_chromium
def test_browser_search_and_filters_page_the_sample_table(browser, baseline_page: Path) -> None:  # noqa: F811
    with open_report(browser, baseline_page) as opened:
        page = opened.page
        rows = "#samples-table tbody tr"
        assert opened.count(rows) == PAGE_SIZE
        assert "showing 1–200 of 450" in page.inner_text("#sample-count")
        page.click("#page-next")
        assert "showing 201–400 of 450" in page.inner_text("#sample-count")
        assert opened.search("needle") == 1 and "北京" in page.inner_text(rows)
        assert opened.search("", "error") == 9 and opened.search("S149", "error") == 1  # ids, any case
        misses = [s for s in samples(450) if s["correct"] is False]
        assert opened.search("", "miss") == len(misses) == 63
        assert opened.search("sci", "miss") == sum(s["subject"] == "sci" for s in misses)
        assert opened.search("quiz geo needle") == 0 and opened.search("quiz sci needle") == 1  # every term
        assert opened.search("nothing matches this") == 0
        assert "no matching samples of 450" in page.inner_text("#sample-count")
        opened.assert_clean()


@requires_chromium
def test_browser_filters_samples_by_rule_and_unparsed(browser, baseline_page: Path) -> None:  # noqa: F811
    records = samples(450)
    unparsed = [s for s in records if s["unparsed"]]
    with open_report(browser, baseline_page) as opened:
        page = opened.page
        assert opened.search("", "unparsed") == len(unparsed) == 21
        assert page.locator("#samples-table tbody tr.unparsed").count() == 21
        assert set(page.locator("#samples-table tbody tr td:nth-child(8)").all_inner_texts()) == {"echoed options"}
        # nothing extracted reads as the one missing-value glyph, as in the flips table
        assert set(page.locator("#samples-table tbody tr td:nth-child(7)").all_inner_texts()) == {view.MISSING}
        assert opened.search("", "", "echoed options") == 21
        assert opened.search("", "", "opening letter") == PAGE_SIZE
        assert f"of {450 - 21 - 9} matching" in page.inner_text("#sample-count")  # errors have no rule
        assert opened.search("", "miss", "opening letter") == sum(
            s["correct"] is False and s["rule"] == "opening letter" for s in records)
        assert opened.search("sci", "unparsed", "echoed options") == sum(s["subject"] == "sci" for s in unparsed)
        assert opened.search("echoed options") == 21  # the rule is searched too
        opened.assert_clean()


@requires_chromium
def test_browser_searches_and_shows_whole_few_shot_prompts(browser, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "report.html"
    write_html(path, document(), few_shot_samples() + samples(5))
    with open_report(browser, path) as opened:
        page = opened.page
        # in the shared prefix; straddling the join ("Ch" | "ile?"); in the rest
        assert opened.search("capital of peru") == 3 and opened.search("chile?") == 1 and opened.search("chad") == 1
        page.locator("#samples-table summary").first.click()
        assert page.locator("#samples-table pre").first.inner_text() == few_shot_samples()[0]["prompt"]  # the one "chad" found
        opened.assert_clean()


@requires_chromium
def test_browser_shows_hostile_prompts_as_text(browser, baseline_page: Path) -> None:  # noqa: F811
    with open_report(browser, baseline_page) as opened:
        page = opened.page
        assert opened.search("alert(1)") == 1
        assert "</script><script>alert(1)</script> and <b>bold</b>" in page.inner_text("#samples-table tbody")
        assert page.locator("#samples-table b, #flip-table b").count() == 0
        assert opened.count("script") == 2
        opened.assert_clean()  # includes: no alert() dialog


@requires_chromium
def test_browser_compares_two_models(browser, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "report.html"
    write_html(path, document(("alpha", "beta")), samples(5) + [sample("b1", model="beta")])
    with open_report(browser, path) as opened:
        assert opened.count("#model-table tbody tr") == 4 and opened.count("#model-table td.best") == 6
        assert opened.count("svg.compare-chart rect.bar") == 8
        assert opened.count("#samples-table tbody tr") == 6
        opened.assert_clean()


@requires_chromium
def test_browser_stays_responsive_with_15000_samples(browser, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "report.html"
    write_html(path, document(("alpha", "beta")), samples(15_000))
    with open_report(browser, path) as opened:
        page = opened.page
        assert opened.count("#samples-table tbody tr") == PAGE_SIZE
        started = time.perf_counter()
        assert opened.search("s14999") == 1
        assert time.perf_counter() - started < 5
        opened.assert_clean()


@requires_chromium
def test_browser_opens_a_real_runs_report(browser, pytester: pytest.Pytester, fake_openai_factory) -> None:  # noqa: F811
    server = fake_openai_factory(replies=mc_replies(), default_reply="no idea")
    write_mc_suite(pytester, extra="thresholds: {sci: 0.9}\n")
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # sci misses its threshold: a red row
    out = pytester.path / "out"
    write_html(out / "report.html", read_results(out), read_samples(out))
    with open_report(browser, out / "report.html") as opened:
        page = opened.page
        assert page.title() == "pytest-llmeval report: test-model"
        assert opened.count('svg.chart[data-suite="quiz"] rect.bar') == 3  # geo, sci, everything
        assert opened.count("svg.chart line.threshold") == 2  # the group has no threshold of its own
        assert opened.count("svg.chart line.ci") == 3
        assert opened.count('svg.chart g.row.fail[data-name="sci"]') == 1
        assert opened.count("#samples-table tbody tr") == 6
        assert opened.search("norway") == 1 and opened.search("", "miss") == 1
        assert "I think it is D" in page.inner_text("#samples-table tbody")
        opened.assert_clean()
