"""Unparsed replies end to end: the share in every report, the ``max_unparsed`` gate of a suite and
``--llm-max-unparsed``, pytest's ``--junitxml``, merged shards, and right -> wrong flips split by
what the reply is now."""

from __future__ import annotations

import csv
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.e2e import (
    MC_ROWS, gen_replies, mc_replies, mc_user_message, read_results, read_samples, scripted_args, write_gen_suite,
    write_mc_suite,
)

# sci's q4 is answered by echoing its options: no readable answer. sci: 1 of 3 unparsed, geo: none.
ECHO = "A. Salt\nB. Water\nC. Gold\nD. Iron"


def replies() -> dict[str, str]:
    scripted = mc_replies()
    scripted[mc_user_message(next(r for r in MC_ROWS if r["id"] == "q4"))] = ECHO
    return scripted


@pytest.mark.parametrize("extra", [[], ["-n", "2"], ["-p", "no:terminal"]], ids=["no-xdist", "n2", "no-terminal"])
def test_a_suites_limit_fails_the_run_and_every_report_shows_the_share(pytester: pytest.Pytester,
                                                                       extra: list[str]) -> None:
    args = scripted_args(pytester, replies())
    write_mc_suite(pytester, extra="max_unparsed: 0.3\n", threshold=0.0)
    result = pytester.runpytest(*args, "--llm-report-dir=out", "--junitxml=pytest.xml", *extra)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = "unparsed share over its limit: test-model quiz/sci 0.333 > 0.300 (1 of 3 replies had no readable answer)"
    if "no:terminal" not in extra:
        result.stdout.fnmatch_lines(["*suite/subject*max unparsed*score*95% CI*unparsed*verdict*",
                                     "quiz/geo *0.300*0.000*PASS", "quiz/sci *0.300*0.333*FAIL",
                                     "quiz/everything ?group? *0.167  —", line])
    out = pytester.path / "out"
    document = read_results(out)
    assert document["verdict"]["failures"] == [line]
    rows = {r.get("subject") or r.get("group"): r for r in document["subjects"] + document["groups"]}
    assert {k: (r["unparsed"], r["unparsed_share"], r["max_unparsed"], r["unparsed_passed"]) for k, r in rows.items()} == {
        "geo": (0, 0.0, 0.3, True), "sci": (1, pytest.approx(1 / 3), 0.3, False), "everything": (1, pytest.approx(1 / 6), None, True)}
    assert rows["sci"]["passed"] is True  # the threshold's verdict is its own
    with (out / "results.csv").open(encoding="utf-8") as handle:
        table = {r["name"]: r for r in csv.DictReader(handle)}
    assert (table["sci"]["unparsed"], table["sci"]["max_unparsed"], table["sci"]["unparsed_passed"]) == ("1", "0.3", "False")
    samples = {s["id"]: s for s in read_samples(out)}
    assert (samples["q4"]["extracted"], samples["q4"]["rule"], samples["q4"]["unparsed"]) == (None, "echoed options", True)
    assert (samples["q6"]["rule"], samples["q6"]["unparsed"]) == ("answer phrase", False)  # "I think it is D": wrong
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert (props["unparsed:sci"], props["max_unparsed:sci"], props["unparsed:group:everything"]) == ("0.333333", "0.3", "0.166667")
    failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failing] == [("quiz.sci", "score")]
    assert "unparsed 0.333 > limit 0.300" in (failing[0].find("failure").get("message") or "")  # type: ignore[union-attr]
    own = ET.parse(pytester.path / "pytest.xml").getroot()
    globals_ = {p.get("name"): p.get("value") for p in own.iter("property") if p.get("name", "").startswith("unparsed:")}
    assert globals_["unparsed:test-model:quiz.sci"] == "0.333333"
    q4 = next(c for c in own.iter("testcase") if "q4" in (c.get("name") or ""))
    q4_props = {p.get("name"): p.get("value") for p in q4.iter("property")}
    assert (q4_props["rule"], q4_props["unparsed"]) == ("echoed options", "true")


@pytest.mark.parametrize(("option", "ret"), [("--llm-max-unparsed=0.2", 1), ("--llm-max-unparsed=0.5", 0)])
def test_the_command_line_limit_applies_to_every_suite(pytester: pytest.Pytester, option: str, ret: int) -> None:
    args = scripted_args(pytester, replies())
    write_mc_suite(pytester, threshold=0.0)
    result = pytester.runpytest(*args, "--llm-report-dir=out", option)
    assert result.ret == ret
    assert read_results(pytester.path / "out")["run"]["options"]["max_unparsed"] == float(option.split("=")[1])


def test_the_ini_limit_and_the_stricter_of_two(pytester: pytest.Pytester) -> None:
    args = scripted_args(pytester, replies())
    write_mc_suite(pytester, extra="max_unparsed: 0.5\n", threshold=0.0)
    pytester.makeini("[pytest]\nllm_max_unparsed = 0.25\n")
    result = pytester.runpytest(*args, "--llm-report-dir=out")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*quiz/sci 0.333 > 0.250 (1 of 3 replies had no readable answer)"])


@pytest.mark.parametrize(("where", "value", "message"), [
    ("suite", "1.5", "*max_unparsed*expected a number from 0 to 1, got 1.5*"),
    ("suite", "lots", "*max_unparsed*expected a number from 0 to 1*lots*"),
    ("option", "2", "*--llm-max-unparsed: expected a number from 0 to 1, got 2*"),
    ("option", "-0.1", "*--llm-max-unparsed: expected a number from 0 to 1, got -0.1*"),
    ("option", "nan", "*--llm-max-unparsed: expected a number from 0 to 1, got nan*"),
])
def test_a_bad_limit_is_one_line(pytester: pytest.Pytester, where: str, value: str, message: str) -> None:
    args = scripted_args(pytester, replies())
    write_mc_suite(pytester, extra=f"max_unparsed: {value}\n" if where == "suite" else "")
    args = [f"--llm-max-unparsed={value}"] if where == "option" else []
    result = pytester.runpytest(*args, *args)
    assert result.ret in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR)
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    (result.stdout if where == "suite" else result.stderr).fnmatch_lines([message])


def test_merged_shards_keep_the_runs_limit_and_refuse_another(pytester: pytest.Pytester) -> None:
    args = scripted_args(pytester, replies())
    write_mc_suite(pytester, threshold=0.0)
    for index in (1, 2):
        pytester.runpytest(*args, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/2",
                           "--llm-max-unparsed=0.2")
    merge = [sys.executable, "-m", "pytest_llmeval", "merge", "shard1", "shard2", "--out", "merged"]
    merged = subprocess.run(merge, cwd=pytester.path, capture_output=True, text=True, timeout=120)
    assert merged.returncode == 1 and "unparsed share over its limit: test-model quiz/sci 0.333 > 0.200" in merged.stdout
    pytester.runpytest(*args, "--llm-report-dir=shard2", "--llm-shard=2/2")
    refused = subprocess.run(merge, cwd=pytester.path, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 4 and "run.options.max_unparsed is None, but 0.2 in shard1" in refused.stdout


def test_right_to_wrong_flips_are_split_into_wrong_answers_and_unparsed(pytester: pytest.Pytester,
                                                                         fake_openai_factory: Any) -> None:
    write_gen_suite(pytester)
    before = fake_openai_factory(replies=gen_replies(set()))
    assert pytester.runpytest("--llm-model=ckpt", f"--llm-base-url={before.base_url}", "--llm-cache=off",
                              "--llm-update-baseline", "--llm-baseline=baseline.json").ret == 0
    now = gen_replies({f"alg{i}" for i in range(0, 6)})  # six wrong answers ("C") ...
    for i in range(6, 12):  # ... and six echoes of the options, with no answer
        message = next(m for m in now if m.startswith(f"alg question {i}?"))
        now[message] = "A. w\nB. x\nC. y\nD. z"
    after = fake_openai_factory(replies=now)
    result = pytester.runpytest("--llm-model=ckpt", f"--llm-base-url={after.base_url}", "--llm-cache=off",
                                "--llm-baseline=baseline.json", "--llm-report-dir=out", "--llm-flips=1")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*flipped right -> wrong answer: 6 (first 1; all in the reports)*", "*id=alg0: target B, was B, now C*",
        "*flipped right -> unparsed (no readable answer now): 6 (first 1; all in the reports)*",
        "*id=alg6: target B, was B, now —*",
        "*regression: ckpt gen/alg 1.000 -> 0.400 (delta -0.600, McNemar p=*, right->wrong 12 (6 now unparsed), "
        "wrong->right 0, n=20)*",
    ])
    document = read_results(pytester.path / "out")
    (alg,) = [c for c in document["comparisons"] if c["name"] == "alg"]
    assert (alg["right_to_wrong"], alg["right_to_wrong_answer"], alg["right_to_unparsed"]) == (12, 6, 6)
    assert sorted((f["id"], f["now"]) for f in document["flips"]) == sorted(
        [(f"alg{i}", "wrong answer") for i in range(6)] + [(f"alg{i}", "unparsed") for i in range(6, 12)])
