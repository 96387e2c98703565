"""``pytest-llmeval calibrate``: a judge's verdicts against a person's, run through the engine on a
scripted judge whose agreement is known, on the shipped calibration set, and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmeval.calibrate import DEFAULT_CRITERIA
from pytest_llmeval.results.agreement import calibrate
from pytest_llmeval.scoring.judge import Rubric, judge_messages

SHIPPED = Path(__file__).parent.parent / "example_suites" / "data" / "judge_calibration.jsonl"


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SHIPPED.read_text(encoding="utf-8").splitlines()]


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_llmeval", "calibrate", *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def _scripted_judge(folder: Path, rows: list[dict[str, Any]], rubric: Rubric, answers: list[str]) -> None:
    """A judge that answers each row's judge prompt with the given text."""
    table = {judge_messages(rubric, r["prompt"], r["reply"], r["reference"])[-1]["content"]: a
             for r, a in zip(rows, answers)}
    models = {"models": {"scripted-judge": {"backend": "pytest_llmeval.testing:ScriptedBackend",
                                            "options": {"replies": table}}}}
    # block YAML: a judge prompt is longer than the 1024 characters YAML allows a flow-style key
    folder.joinpath("llm_models.yaml").write_text(yaml.safe_dump(models, allow_unicode=True), encoding="utf-8")


def test_a_scripted_judge_of_known_agreement(tmp_path: Path) -> None:
    """Over the shipped set, the judge says the person's verdict except on every fifth reply, where
    it says the other one, and every seventh it writes no verdict: the numbers are those of
    ``results.agreement`` on the same verdicts (itself checked against scikit-learn)."""
    rows = _rows()
    rubric = Rubric(DEFAULT_CRITERIA)
    judged: list[str | None] = []
    for i, row in enumerate(rows):
        flipped = {"PASS": "FAIL", "FAIL": "PASS"}[row["label"]]
        judged.append(None if i % 7 == 6 else flipped if i % 5 == 4 else row["label"])
    answers = ["I cannot tell." if v is None else f"Reasoning.\nVerdict: [[{v}]]" for v in judged]
    _scripted_judge(tmp_path, rows, rubric, answers)
    done = _run(tmp_path, str(SHIPPED), "--judge", "scripted-judge", "--json", "out.json")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = calibrate([r["label"] for r in rows], judged, ("PASS", "FAIL"), ordinal=False)
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["agreement"] == pytest.approx(expected.agreement) and report["kappa"] == pytest.approx(expected.kappa)
    assert report["confusion"] == [list(r) for r in expected.confusion] and report["unparsed"] == expected.unparsed
    assert report["n"] == len(rows) == 78 and report["weighted_kappa"] is None
    assert f"agreement     {expected.agreement:.3f}" in done.stdout
    assert f"Cohen's kappa {expected.kappa:.3f}" in done.stdout
    assert f"unparsed      {expected.unparsed} of 78" in done.stdout


def test_a_scale_reads_the_score_and_adds_the_weighted_kappa(tmp_path: Path) -> None:
    rows = _rows()[:20]
    rubric = Rubric(DEFAULT_CRITERIA, scale=5)
    judged = [str(min(5, r["score"] + (i % 3 == 0))) for i, r in enumerate(rows)]  # a lenient judge
    _scripted_judge(tmp_path, rows, rubric, [f"Verdict: [[{v}]]" for v in judged])
    done = _run(tmp_path, str(SHIPPED), "--judge", "scripted-judge", "--scale", "5", "--limit", "20", "--json", "o.json")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = calibrate([str(r["score"]) for r in rows], judged, rubric.values, ordinal=True)
    report = json.loads((tmp_path / "o.json").read_text())
    assert report["weighted_kappa"] == pytest.approx(expected.weighted_kappa) and report["weights"] == "quadratic"
    assert "weighted kappa" in done.stdout


@pytest.mark.parametrize(("content", "line"), [
    ('{"prompt": "q", "reply": "a", "label": "MAYBE"}\n', "bad.jsonl:1: label: expected one of PASS, FAIL, got 'MAYBE'"),
    ('{"prompt": "q", "reply": "a", "label": "PASS"}\nnot json\n', "bad.jsonl:2: not JSON (Expecting value)"),
    ('{"reply": "a", "label": "PASS"}\n', "bad.jsonl:1: prompt: expected a string"),
])
def test_bad_labelled_files_are_one_line(tmp_path: Path, content: str, line: str) -> None:
    tmp_path.joinpath("bad.jsonl").write_text(content, encoding="utf-8")
    done = _run(tmp_path, "bad.jsonl", "--judge", "smollm2")
    assert done.returncode == 4 and done.stdout.strip() == f"pytest-llmeval calibrate: {line}", done.stdout + done.stderr


@pytest.mark.slow
def test_the_bundled_model_on_the_shipped_set(tmp_path: Path) -> None:
    """The shipped set, judged by the bundled 135M model: it runs end to end (the README gives its
    numbers; they say it is not a judge to gate on)."""
    pytest.importorskip("llama_cpp")
    done = _run(tmp_path, str(SHIPPED), "--judge", "smollm2", "--limit", "6", "--json", "o.json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "o.json").read_text())
    assert report["n"] == 6 and all(r["judge_reply"] for r in report["replies"])
