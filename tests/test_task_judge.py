"""``task: judge``: a judge model grades each reply by the suite's rubric, in a second request
through the engine; its verdict is read strictly and an unreadable one is unparsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring import judge_task, validate_options
from pytest_llmeval.scoring.scored import Gold

from .e2e import XDIST_MODES, read_results, read_samples, sample_outcomes

RUBRIC = {"criteria": ["The answer names the right city."], "scale": 5}
OPTIONS = {"judge": "judge-model", "rubric": RUBRIC, "pass_at": 4}


def test_the_score_is_the_verdict_on_the_zero_to_one_scale() -> None:
    gold = Gold("Paris")
    four = judge_task.score("The answer is right but terse.\nVerdict: [[4]]", gold, OPTIONS)
    three = judge_task.score("Verdict: [[3]]", gold, OPTIONS)
    assert (four.extracted, four.score, four.correct, four.rule) == ("4", 0.75, True, "judge verdict")
    assert (three.score, three.correct) == (0.5, False)


@pytest.mark.parametrize("reply", ["I would give it a 4.", "Verdict: [[4.5]]", "Verdict: [[4]] ... no, [[5]]"])
def test_an_unreadable_verdict_is_unparsed_never_a_guess(reply: str) -> None:
    scored = judge_task.score(reply, Gold("Paris"), OPTIONS)
    assert (scored.extracted, scored.unparsed, scored.correct, scored.rule) == (None, True, False, "no verdict")


def test_pass_fail_passes_on_pass() -> None:
    options = {"judge": "j", "rubric": {"criteria": "Right city."}}
    assert judge_task.score("Verdict: [[PASS]]", Gold("Paris"), options).correct
    assert not judge_task.score("Verdict: [[FAIL]]", Gold("Paris"), options).correct


@pytest.mark.parametrize(("options", "line"), [
    ({"rubric": RUBRIC, "pass_at": 4}, "scoring.judge: task judge needs the model profile that judges, e.g. judge: gpt-4o"),
    ({"judge": "j", "pass_at": 4}, "scoring.rubric: task judge needs a rubric: {criteria: [...], scale: 5 or pass_fail}"),
    ({"judge": "j", "rubric": RUBRIC}, "scoring.pass_at: a 1..5 rubric needs the verdict from which a sample passes, "
                                       "e.g. pass_at: 4"),
    ({"judge": "j", "rubric": RUBRIC, "pass_at": 0.7}, "scoring.pass_at: expected a verdict, a whole number from 1 to 5, "
                                                       "got 0.7"),
    ({"judge": "j", "rubric": {"criteria": "x"}, "pass_at": 1}, "scoring.pass_at: a pass_fail rubric passes on PASS; "
                                                                 "pass_at is for a 1..K scale"),
    ({"judge": "j", "rubric": {"criteria": "x", "scale": 11}}, "scoring.rubric.scale: expected pass_fail or a whole number "
                                                              "from 2 to 10 (a 1..N scale), got 11"),
])
def test_bad_judge_options_are_one_line(options: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_options("judge", options)
    assert str(info.value) == line


ROWS = [{"id": "fr", "question": "Capital of France?", "answer": "Paris"},
        {"id": "it", "question": "Capital of Italy?", "answer": "Rome"},
        {"id": "no", "question": "Capital of Norway?", "answer": "Oslo"},
        {"id": "pe", "question": "Capital of Peru?", "answer": "Lima"}]
REPLIES = {"Capital of France?": "Paris.", "Capital of Italy?": "Milan, I think.", "Capital of Norway?": "Oslo",
           "Capital of Peru?": "Lima"}
VERDICTS = {"fr": "Correct and clear.\nVerdict: [[5]]", "it": "Milan is wrong.\nVerdict: [[1]]",
            "no": "Right, terse.\nVerdict: [[4]]", "pe": "I'd say 5/5."}


def judge_message(row: dict[str, str], options: dict[str, Any] = OPTIONS) -> str:
    return judge_task.request_messages(options, row["question"], REPLIES[row["question"]], row["answer"])[-1]["content"]


def write_judge_suite(pytester: pytest.Pytester, verdicts: dict[str, Any] = VERDICTS, extra: str = "") -> None:
    pytester.path.joinpath("capitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pytester.makefile(".llmeval.yaml", capitals="task: judge\ndata: {format: jsonl, path: capitals.jsonl}\n"
                                               f"prompt: '{{question}}'\nscoring: {json.dumps(OPTIONS)}\n{extra}")
    judged = {judge_message(r): verdicts[r["id"]] for r in ROWS if r["id"] in verdicts}
    models = {"models": {
        "scripted": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": REPLIES}},
        "judge-model": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": judged}},
    }}
    pytester.makefile(".yaml", llm_models=json.dumps(models))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_judge_suite_end_to_end(pytester: pytest.Pytester, xdist: list[str]) -> None:
    write_judge_suite(pytester)
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider", *xdist)
    assert sample_outcomes(result) == {"passed": 2, "missed": 2}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert {k: (s["extracted"], s["correct"], s["unparsed"]) for k, s in samples.items()} == {
        "fr": ("5", True, False), "it": ("1", False, False), "no": ("4", True, False), "pe": (None, False, True)}
    assert samples["it"]["reply"] == "Milan, I think."
    assert samples["it"]["judge"]["model"] == "judge-model" and samples["it"]["judge"]["reply"] == VERDICTS["it"]
    subject = read_results(pytester.path / "out")["subjects"][0]
    assert subject["metric"] == "judge" and subject["unparsed"] == 1 and subject["statistic"] == "mean"
    assert subject["score"] == pytest.approx((1 + 0 + 0.75 + 0) / 4)  # an unparsed verdict scores 0, as a miss


def test_a_judge_that_cannot_answer_makes_the_sample_an_error_not_a_miss(pytester: pytest.Pytester) -> None:
    write_judge_suite(pytester, {**VERDICTS, "no": {"fail": "error", "message": "judge overloaded"}})
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert samples["no"]["correct"] is None and "judge judge-model: " in samples["no"]["error"]
    assert "judge overloaded" in samples["no"]["error"]


def _versions(pytester: pytest.Pytester) -> set[str]:
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret in (0, 1), result.stdout.str()
    return {s["version"] for s in read_samples(pytester.path / "out")}


def test_the_judge_model_and_rubric_are_part_of_the_version(pytester: pytest.Pytester) -> None:
    write_judge_suite(pytester)
    first = _versions(pytester)
    models = json.loads(pytester.path.joinpath("llm_models.yaml").read_text())
    models["models"]["judge-model"]["options"]["default"] = "Verdict: [[3]]"  # another judge
    pytester.path.joinpath("llm_models.yaml").write_text(json.dumps(models))
    second = _versions(pytester)
    assert len(first) == len(second) == 1 and first != second


def _judge_key(reply: str, criterion: str) -> str:
    from pytest_llmeval.scoring.judge import Rubric, judge_messages

    return judge_messages(Rubric((criterion,)), "(not given)", reply, None)[-1]["content"]


@pytest.mark.parametrize("xdist", XDIST_MODES[::2])
def test_llm_judge_in_a_python_test(pytester: pytest.Pytester, xdist: list[str]) -> None:
    criterion = "It names Paris as the capital of France."
    judged = {_judge_key("Paris.", criterion): "It does.\nVerdict: [[PASS]]",
              _judge_key("Lyon.", criterion): "Lyon is not the capital.\nVerdict: [[FAIL]]",
              _judge_key("Nice.", criterion): "Maybe."}
    models = {"models": {
        "scripted": {"backend": "pytest_llmeval.testing:ScriptedBackend",
                     "options": {"replies": {"a": "Paris.", "b": "Lyon.", "c": "Nice."}}},
        "judge-model": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": judged}},
    }}
    pytester.makefile(".yaml", llm_models=json.dumps(models))
    pytester.makepyfile(test_capital=f"""
        import pytest

        @pytest.mark.parametrize("prompt", ["a", "b", "c"])
        def test_capital(llm, prompt):
            assert llm.judge(llm.generate(prompt), {criterion!r})
    """)
    result = pytester.runpytest("--llm-model=scripted", "--llm-judge=judge-model", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*Judgement(FAIL by judge-model: *Lyon is not the capital*",
                                 "*UnreadableVerdict: judge judge-model: no verdict: no * in the reply*"],
                                consecutive=False)


def test_pairwise_needs_a_judge(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llm-judge-pairwise", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-judge-pairwise needs a judge: --llm-judge=PROFILE*"])


def test_a_rerun_takes_replies_and_verdicts_from_the_journal(pytester: pytest.Pytester) -> None:
    write_judge_suite(pytester)
    args = ("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider", "--llm-cache=journal.sqlite")
    first = pytester.runpytest(*args)
    assert sample_outcomes(first) == {"passed": 2, "missed": 2}
    again = pytester.runpytest(*args)
    assert sample_outcomes(again) == {"passed": 2, "missed": 2}
    samples = read_samples(pytester.path / "out")
    assert all(s["cached"] and s["judge"]["cached"] for s in samples)
    assert {s["id"]: s["extracted"] for s in samples} == {"fr": "5", "it": "1", "no": "4", "pe": None}


@pytest.mark.parametrize("xdist", XDIST_MODES[::2])
def test_a_judge_behind_an_openai_server_through_the_engine(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                          monkeypatch: pytest.MonkeyPatch, xdist: list[str]) -> None:
    """Any backend judges: here a real OpenAI-compatible HTTP server on 127.0.0.1 that wants a key
    and fails its first request (503): the engine retries it, and the key never reaches a report."""
    server = fake_openai_factory({judge_message(r): VERDICTS[r["id"]] for r in ROWS}, required_key="sk-judge-secret",
                                 fail_first=1, fail_status=503)
    monkeypatch.setenv("JUDGE_KEY", "sk-judge-secret")
    write_judge_suite(pytester)
    models = json.loads(pytester.path.joinpath("llm_models.yaml").read_text())
    models["models"]["judge-model"] = {"backend": "openai", "base_url": server.base_url, "model": "judge-m",
                                       "api_key_env": "JUDGE_KEY", "retries": 2,
                                       "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "currency": "USD"}}
    pytester.path.joinpath("llm_models.yaml").write_text(json.dumps(models))
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider",
                                "--llm-cache=off", *xdist)
    assert sample_outcomes(result) == {"passed": 2, "missed": 2}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert {k: s["extracted"] for k, s in samples.items()} == {"fr": "5", "it": "1", "no": "4", "pe": None}
    assert sum(s["judge"]["retries"] for s in samples.values()) >= 1
    assert {r.body["model"] for r in server.requests} == {"judge-m"}
    assert "sk-judge-secret" not in (pytester.path / "out" / "samples.jsonl").read_text()
    usage = {u["model"]: u for u in json.loads((pytester.path / "out" / "results.json").read_text())["usage"]}
    judged = usage["judge-model"]  # the judge's tokens, under its own name, priced by its profile
    assert judged["replies"] == 4 and judged["estimated"] == 0
    assert judged["prompt_tokens"] == sum(s["judge"]["prompt_tokens"] for s in samples.values()) > 0
    assert judged["cost"] == pytest.approx((judged["prompt_tokens"] + 2 * judged["completion_tokens"]) / 1e6)
