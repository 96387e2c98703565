"""What CI systems read: pytest's own --junitxml, the report folder's junit.xml, GitHub's step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.e2e import XDIST_MODES, mc_replies, server_args, write_mc_suite


@pytest.fixture
def quiz_server(fake_openai_factory: Any) -> Any:
    return fake_openai_factory(replies=mc_replies(), default_reply="no idea")


def properties(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iter("property")}


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_pytest_junitxml_carries_sample_properties_and_subject_scores(pytester: pytest.Pytester, quiz_server: Any,
                                                                      xdist: list[str]) -> None:
    write_mc_suite(pytester)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--junitxml=junit.xml", *xdist)
    assert result.ret == 0
    root = ET.parse(pytester.path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == 6
    q6 = properties(next(c for name, c in cases.items() if name and name.startswith("q6")))
    assert (q6["subject"], q6["id"], q6["target"], q6["extracted"], q6["correct"]) == ("sci", "q6", "A", "D", "false")
    suite_level = properties(root.find("testsuite").find("properties"))  # type: ignore[union-attr]
    assert float(suite_level["score:test-model:quiz.sci"]) == pytest.approx(2 / 3, abs=1e-6)
    assert float(suite_level["score:test-model:quiz.group.everything"]) == pytest.approx(5 / 6, abs=1e-6)


def test_report_dir_has_junit_with_subject_rows_and_samples(pytester: pytest.Pytester, quiz_server: Any) -> None:
    write_mc_suite(pytester, threshold=0.9)
    result = pytester.runpytest(*server_args(quiz_server.base_url), "--llm-report-dir=out")
    assert result.ret == 1
    root = ET.parse(pytester.path / "out" / "junit.xml").getroot()
    scores = {c.get("classname"): c for c in root.iter("testcase") if c.get("name") == "score"}
    assert scores["quiz.sci"].find("failure") is not None and scores["quiz.geo"].find("failure") is None
    assert sum(1 for c in root.iter("testcase") if c.get("name") != "score") == 6


def test_github_step_summary_is_appended(pytester: pytest.Pytester, quiz_server: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "step_summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_mc_suite(pytester)
    assert pytester.runpytest(*server_args(quiz_server.base_url)).ret == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")
    assert "quiz/sci" in text.replace("\\", "") and "0.667" in text
