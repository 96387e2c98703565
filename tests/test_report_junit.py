"""junit.xml as a CI server reads it: parsed back with xml.etree, from hand-built documents and from a real run."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.report.junit import (
    OUTPUT_CHARS,
    clean_xml_text,
    render_junit,
    sample_properties,
    suite_properties,
    write_junit,
)
from tests.e2e import mc_replies, quiz_report_with_a_failing_subject, read_results, read_samples

HOSTILE = "问题：x]]>y <b>&amp; \x00\x01\x08\x0b\x0c\x1b\x7f 答案\r\nend\ufffe"
HOSTILE_CLEAN = "问题：x]]>y <b>&amp; \x7f 答案\nend"
# Any character, lone surrogates included: a Python str can hold them even though no file can.
ANY_TEXT = st.text(st.characters(exclude_categories=()))


def row(model: str = "m", name: str = "geo", kind: str = "subject", score: float | None = 0.5,
        threshold: float | None = 0.5, passed: bool = True, n: int = 2, suite: str = "quiz") -> dict[str, Any]:
    interval = (None, None) if score is None else (max(0.0, score - 0.3), min(1.0, score + 0.3))
    return {"model": model, "suite": suite, kind: name, "version": "3f2a9c1d", "n": n, "correct": 1, "score": score,
            "ci_low": interval[0], "ci_high": interval[1], "threshold": threshold, "passed": passed,
            "metric": "accuracy", "mode": "gen", "task": "multiple_choice", "errors": 0}


def sample(id: str, subject: str = "geo", model: str = "m", correct: bool | None = True, error: str | None = None,
           prompt: str = "Capital of France?", reply: str | None = "B") -> dict[str, Any]:
    return {"model": model, "suite": "quiz", "subject": subject, "id": id, "version": "3f2a9c1d", "prompt": prompt,
            "reply": reply, "extracted": None if error else "B", "rule": None if error else "opening letter",
            "unparsed": False, "target": "B", "correct": correct, "error": error, "latency_s": 0.25, "prompt_tokens": 12, "completion_tokens": 1, "task": "multiple_choice", "mode": "gen"}


def document(*rows: dict[str, Any], models: tuple[str, ...] = ("m",), **extra: Any) -> dict[str, Any]:
    return {
        "run": {"models": [{"name": m} for m in models], "options": {"gate": "score"},
                "versions": {"pytest_llmeval": "0.1.0"}, "duration_s": 1.5},
        "subjects": [r for r in rows if "subject" in r], "groups": [r for r in rows if "group" in r], **extra,
    }


def comparison(name: str, delta: float, p: float, regressed: bool, model: str = "m", kind: str = "subject") -> dict[str, Any]:
    return {"kind": kind, "model": model, "baseline_model": "old", "suite": "quiz", "name": name, "status": "compared",
            "reason": None, "version": "3f2a9c1d", "baseline_version": "3f2a9c1d", "n_paired": 10,
            "baseline_score": 0.9, "score": 0.9 + delta, "delta": delta, "right_to_wrong": 4, "wrong_to_right": 0,
            "p_value": p, "significant": p < 0.05, "regressed": regressed, "improved": False}


def parse(text: str) -> ET.Element:
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    return ET.fromstring(text.encode("utf-8"))  # as a CI server reads the file: bytes, declared UTF-8


def props(element: ET.Element) -> dict[str, str]:
    found = element.find("properties")
    assert found is not None
    return {p.get("name", ""): p.get("value", "") for p in found.findall("property")}


def case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    found = [c for c in suite.findall("testcase") if (c.get("classname"), c.get("name")) == (classname, name)]
    assert len(found) == 1, (classname, name)
    return found[0]


def counts(element: ET.Element) -> tuple[int, int, int]:
    return int(element.get("tests", "-1")), int(element.get("failures", "-1")), int(element.get("errors", "-1"))


ONE_MODEL = document(
    row(name="geo", score=0.5, threshold=0.6, passed=False), row(name="sci", score=1.0),
    row(kind="group", name="all", score=0.75, threshold=None),
    verdict={"passed": False, "failures": ["threshold not met: m quiz/geo 0.500 < 0.600 (n=2)"]},
)
ONE_SAMPLES = [sample("q1"), sample("q2", correct=False, reply="I think it is D"),
               sample("q3", correct=None, error="HTTP 500\nInternal Server Error", reply=None),
               sample("q4", subject="sci")]


def test_one_model_layout() -> None:
    root = parse(render_junit(ONE_MODEL, ONE_SAMPLES))
    assert root.tag == "testsuites" and root.get("name") == "llmeval" and root.get("time") == "1.5"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "m: quiz"
    assert counts(root) == counts(suite) == (4 + 3, 1, 1)
    names = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert names == [("quiz.geo", "q1"), ("quiz.geo", "q2"), ("quiz.geo", "q3"), ("quiz.sci", "q4"),
                     ("quiz.geo", "score"), ("quiz.sci", "score"), ("quiz.group.all", "score")]
    p = props(suite)
    assert (p["model"], p["suite"], p["version"]) == ("m", "quiz", "0.1.0")
    assert (p["score:geo"], p["ci:geo"], p["threshold:geo"], p["n:geo"]) == ("0.5", "[0.2, 0.8]", "0.6", "2")
    assert (p["score:group:all"], p["threshold:group:all"], p["version:geo"]) == ("0.75", "", "3f2a9c1d")
    assert not any(name.startswith(("delta:", "p:")) for name in p)


def test_a_hit_a_miss_and_an_error() -> None:
    suite = parse(render_junit(ONE_MODEL, ONE_SAMPLES)).findall("testsuite")[0]
    hit, miss, error = (case(suite, "quiz.geo", id) for id in ("q1", "q2", "q3"))
    assert list(hit) == [hit.find("properties")] and props(hit)["outcome"] == "pass" and hit.get("time") == "0.25"
    assert props(hit) == {"model": "m", "suite": "quiz", "subject": "geo", "id": "q1", "version": "3f2a9c1d",
                          "target": "B", "extracted": "B", "rule": "opening letter", "unparsed": "false",
                          "correct": "true", "latency_s": "0.25", "tokens": "13", "outcome": "pass"}
    assert props(miss)["outcome"] == "miss" and props(miss)["correct"] == "false"
    assert miss.find("failure") is None and miss.find("error") is None  # a miss is not a failure
    assert miss.findtext("system-out") == "prompt:\nCapital of France?\n\nreply:\nI think it is D"
    failure = error.find("error")
    assert failure is not None and failure.get("message") == "HTTP 500"
    assert failure.text == "HTTP 500\nInternal Server Error" and props(error)["outcome"] == "error"
    assert "Capital of France?" in (error.findtext("system-out") or "")


def test_rows_below_threshold_are_failures() -> None:
    suite = parse(render_junit(ONE_MODEL, ONE_SAMPLES)).findall("testsuite")[0]
    failure = case(suite, "quiz.geo", "score").find("failure")
    assert failure is not None and failure.get("message") == "score 0.500 < threshold 0.600 (n=2)"
    assert case(suite, "quiz.sci", "score").find("failure") is None
    group = case(suite, "quiz.group.all", "score")
    assert group.find("failure") is None and props(group)["threshold"] == "" and props(group)["passed"] == "true"


def test_the_interval_gate_and_a_row_with_nothing_scored() -> None:
    doc = document(row(name="geo", score=0.7, threshold=0.6, passed=False), row(name="sci", score=None, passed=False, n=0))
    doc["run"]["options"]["gate"] = "ci_low"
    suite = parse(render_junit(doc, [])).findall("testsuite")[0]
    messages = [case(suite, f"quiz.{name}", "score").find("failure") for name in ("geo", "sci")]
    assert [m.get("message") if m is not None else None for m in messages] == [
        "ci_low 0.400 < threshold 0.600 (n=2)", "no scored samples, needs 0.500 (n=0, errors=0)"]
    assert props(suite)["ci:sci"] == "" and props(suite)["score:sci"] == ""


def test_two_models_give_one_testsuite_each_in_run_order() -> None:
    doc = document(row(model="beta", name="geo"), row(model="alpha", name="geo", passed=False, threshold=0.9),
                   models=("beta", "alpha"))
    samples = [sample("q1", model="alpha"), sample("q1", model="beta", correct=False)]
    root = parse(render_junit(doc, samples))
    beta, alpha = root.findall("testsuite")
    assert (beta.get("name"), alpha.get("name")) == ("beta: quiz", "alpha: quiz")
    assert counts(beta) == (2, 0, 0) and counts(alpha) == (2, 1, 0) and counts(root) == (4, 1, 0)
    assert props(case(beta, "quiz.geo", "q1"))["outcome"] == "miss"
    assert props(case(alpha, "quiz.geo", "q1"))["outcome"] == "pass"


def test_a_baseline_adds_delta_and_p_and_a_regression_fails_its_row() -> None:
    regressed = comparison("geo", -0.4, 0.0078125, regressed=True)
    both = comparison("sci", -0.4, 0.01, regressed=True)
    doc = document(row(name="geo"), row(name="sci", score=0.2, passed=False), row(name="new"),
                   baseline={"path": "baseline.json", "models": ["old"]},
                   comparisons=[regressed, both, {**comparison("new", 0, 1, False), "status": "no_baseline",
                                                  "delta": None, "p_value": None}],
                   regressions=[regressed, both])
    suite = parse(render_junit(doc, [])).findall("testsuite")[0]
    p = props(suite)
    assert (p["delta:geo"], p["p:geo"]) == ("-0.4", "0.0078125")
    assert "delta:new" not in p  # nothing to compare with
    failure = case(suite, "quiz.geo", "score").find("failure")
    assert failure is not None and failure.get("message") == (
        "regressed against old: delta -0.400 (0.500 vs 0.900 over 10 paired), p=0.0078125")
    both_failure = case(suite, "quiz.sci", "score").find("failure")
    assert both_failure is not None
    assert re.fullmatch(r"score 0\.200 < threshold 0\.500 \(n=2\); regressed against old: .*", both_failure.get("message", ""))
    assert counts(suite) == (3, 2, 0)


def test_a_document_without_the_newer_keys() -> None:
    old = {"run": {"models": [{"name": "m"}]}, "subjects": [row()], "groups": []}
    explicit = {**old, "verdict": None, "comparisons": None, "regressions": None, "flips": None, "baseline": None}
    for doc in (old, explicit):
        root = parse(render_junit(doc, [sample("q1")]))
        assert counts(root) == (2, 0, 0) and root.get("time") is None
        assert props(root.findall("testsuite")[0])["score:geo"] == "0.5"
    for empty in ({}, {"run": None, "subjects": None, "groups": None}):
        assert counts(parse(render_junit(empty, []))) == (0, 0, 0)


def test_hostile_text_stays_well_formed_and_cjk_survives() -> None:
    doc = document(row(name="a|b 数学"), row(kind="group", name="理科<&>"))
    samples = [sample("q<1>&", subject="a|b 数学", correct=False, prompt=HOSTILE, reply=HOSTILE),
               sample("q2", subject="a|b 数学", correct=None, error=HOSTILE, reply=None)]
    text = render_junit(doc, samples)
    assert "\x1b" not in text and "\x00" not in text and "数学" in text
    suite = parse(text).findall("testsuite")[0]
    miss = case(suite, "quiz.a|b 数学", "q<1>&")
    assert miss.findtext("system-out") == f"prompt:\n{HOSTILE_CLEAN}\n\nreply:\n{HOSTILE_CLEAN}"
    error = case(suite, "quiz.a|b 数学", "q2").find("error")
    assert error is not None and error.text == HOSTILE_CLEAN and error.get("message") == "问题：x]]>y <b>&amp; \x7f 答案"
    assert props(suite)["score:a|b 数学"] == "0.5" and "score:group:理科<&>" in props(suite)
    assert case(suite, "quiz.group.理科<&>", "score") is not None


def test_long_prompts_and_replies_are_cut() -> None:
    text = render_junit(document(row()), [sample("q1", correct=False, prompt="问" * 50_000, reply="x" * 50_000)])
    out = parse(text).findall("testsuite")[0].findtext("testcase/system-out") or ""
    assert out.count("问") == OUTPUT_CHARS and out.count("x") == OUTPUT_CHARS
    assert f"[{50_000 - OUTPUT_CHARS} more characters]" in out and len(text) < 20_000


def test_the_file_does_not_depend_on_arrival_order_and_the_last_line_counts() -> None:
    samples = [sample(f"q{i}", subject=s) for s in ("sci", "geo") for i in (10, 2, 1)]
    assert render_junit(ONE_MODEL, samples) == render_junit(ONE_MODEL, samples[::-1])
    ids = [c.get("name") for c in parse(render_junit(ONE_MODEL, samples)).iter("testcase")]
    assert ids[:6] == ["q1", "q2", "q10", "q1", "q2", "q10"]
    unicode_digits = [sample(id) for id in ("q²", "q٣", "q3")]  # only ASCII digits sort as numbers
    assert render_junit(ONE_MODEL, unicode_digits) == render_junit(ONE_MODEL, unicode_digits[::-1])
    retried = [sample("q1", correct=None, error="timeout"), sample("q1", correct=False)]
    suite = parse(render_junit(ONE_MODEL, retried)).findall("testsuite")[0]
    assert props(case(suite, "quiz.geo", "q1"))["outcome"] == "miss" and counts(suite)[2] == 0


def test_write_junit_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old", encoding="utf-8")
    write_junit(path, ONE_MODEL, ONE_SAMPLES)
    assert path.read_text(encoding="utf-8") == render_junit(ONE_MODEL, ONE_SAMPLES)
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]


def test_sample_properties_for_pytests_own_junitxml() -> None:
    pairs = sample_properties({**sample("q\x01", correct=False), "rejected": "content policy"})
    assert [name for name, _ in pairs] == ["model", "suite", "subject", "id", "version", "target", "extracted",
                                          "rule", "unparsed", "correct", "latency_s", "tokens", "outcome", "rejected"]
    values = dict(pairs)
    assert (values["id"], values["correct"], values["outcome"], values["rejected"]) == ("q", "false", "miss", "content policy")
    assert all(isinstance(value, str) for _, value in pairs)
    assert dict(sample_properties({"id": "x"}))["tokens"] == ""


def test_suite_properties_name_model_suite_and_row() -> None:
    doc = document(row(model="m", name="geo"), row(model="m", kind="group", name="all"),
                   comparisons=[comparison("geo", 0.05, 0.5, False)], verdict={"passed": True, "failures": []})
    values = dict(suite_properties(doc))
    assert values["verdict"] == "passed"
    assert (values["score:m:quiz.geo"], values["ci:m:quiz.geo"], values["threshold:m:quiz.geo"]) == ("0.5", "[0.2, 0.8]", "0.5")
    assert (values["delta:m:quiz.geo"], values["p:m:quiz.geo"], values["n:m:quiz.group.all"]) == ("0.05", "0.5", "2")
    assert "verdict" not in dict(suite_properties({"subjects": [row()]}))


@given(ANY_TEXT)
def test_any_text_round_trips_minus_forbidden_characters(text: str) -> None:
    cleaned = clean_xml_text(text)
    element = ET.Element("a", b=cleaned)
    element.text = cleaned
    parsed = ET.fromstring(ET.tostring(element, encoding="utf-8"))
    assert (parsed.text or "") == cleaned and parsed.get("b") == cleaned
    allowed = "".join(ch for ch in text.replace("\r\n", "\n").replace("\r", "\n") if _xml_char(ch))
    assert cleaned == allowed and clean_xml_text(cleaned) == cleaned


@given(subject=ANY_TEXT, id=ANY_TEXT, prompt=ANY_TEXT, error=ANY_TEXT)
def test_any_sample_renders_to_well_formed_xml(subject: str, id: str, prompt: str, error: str) -> None:
    doc = document(row(name=subject))
    samples = [sample(id, subject=subject, correct=False, prompt=prompt, reply=prompt),
               sample(id + "e", subject=subject, correct=None, error=error or "x")]
    suite = parse(render_junit(doc, samples)).findall("testsuite")[0]
    assert props(suite)[f"score:{clean_xml_text(subject)}"] == "0.5"
    miss = case(suite, f"quiz.{clean_xml_text(subject)}", clean_xml_text(id))
    assert (miss.findtext("system-out") or "").startswith(f"prompt:\n{clean_xml_text(prompt)[:OUTPUT_CHARS]}")


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def test_end_to_end_from_a_real_run(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    out = quiz_report_with_a_failing_subject(pytester, fake_openai_factory(replies=mc_replies(), default_reply="no idea"))
    write_junit(out / "llmeval-junit.xml", read_results(out), read_samples(out))
    root = ET.parse(out / "llmeval-junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "test-model: quiz" and counts(suite) == (6 + 3, 1, 0)
    miss = case(suite, "quiz.sci", "q6")
    assert props(miss)["outcome"] == "miss" and props(miss)["extracted"] == "D" and props(miss)["target"] == "A"
    assert "Red planet?" in (miss.findtext("system-out") or "") and "I think it is D" in (miss.findtext("system-out") or "")
    assert props(case(suite, "quiz.geo", "q2"))["outcome"] == "pass"
    failure = case(suite, "quiz.sci", "score").find("failure")
    assert failure is not None and re.fullmatch(r"score 0\.667 < threshold 0\.900 \(n=3\)", failure.get("message", ""))
    assert case(suite, "quiz.group.everything", "score").find("failure") is None
    assert props(suite)["n:group:everything"] == "6" and len(props(suite)["version:sci"]) == 8
