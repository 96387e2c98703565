"""``pytest_llmeval.testing.ScriptedBackend``: scripted replies and failures, alone and through a real run."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval import BackendError, BackendSettings, FatalBackendError, GenerateRequest, SampleRejected
from pytest_llmeval import TransientBackendError
from pytest_llmeval.errors import ConfigError
from pytest_llmeval.messages import LoglikelihoodRequest
from pytest_llmeval.testing import Delayed, Failed, Fatal, Rejected, ScriptedBackend, Transient
from tests.e2e import (MC_ROWS, XDIST_MODES, mc_replies, mc_user_message, read_samples, sample_outcomes, write_jsonl,
                       write_mc_suite)

BACKEND = "pytest_llmeval.testing:ScriptedBackend"


def ask(text: str) -> GenerateRequest:
    return GenerateRequest(({"role": "system", "content": "Be brief."}, {"role": "user", "content": text}),
                           max_tokens=8, temperature=0.0)


def scripted(**options: Any) -> ScriptedBackend:
    return ScriptedBackend(BackendSettings(backend=BACKEND, model="m", extra=options))


class Quiz(ScriptedBackend):
    replies = {"2+2?": "4", "flaky?": Transient("503", times=2, then="ok"), "filtered?": Rejected("content filter"),
               "bad?": Failed("400 bad"), "key?": Fatal("401 key"), "slow?": Delayed(0.05, "late")}

    def reply(self, request: Any) -> Any:
        return f"echo {request.messages[-1]['content']}"


def test_a_table_a_function_and_the_last_message_as_key() -> None:
    quiz = Quiz(BackendSettings(backend="x", model="m"))
    assert quiz.generate(ask("2+2?")).text == "4"
    assert quiz.generate(ask("anything")).text == "echo anything"
    assert [r.messages[-1]["content"] for r in quiz.calls] == ["2+2?", "anything"]  # type: ignore[union-attr]


def test_failures_on_demand() -> None:
    quiz = Quiz(BackendSettings(backend="x", model="m"))
    for _ in range(2):
        with pytest.raises(TransientBackendError, match="^503$"):
            quiz.generate(ask("flaky?"))
    assert quiz.generate(ask("flaky?")).text == "ok"
    with pytest.raises(SampleRejected) as refused:
        quiz.generate(ask("filtered?"))
    assert refused.value.reason == "content filter"
    with pytest.raises(BackendError, match="^400 bad$") as failed:
        quiz.generate(ask("bad?"))
    assert not isinstance(failed.value, (TransientBackendError, SampleRejected, FatalBackendError))
    with pytest.raises(FatalBackendError, match="^401 key$"):
        quiz.generate(ask("key?"))
    started = time.perf_counter()
    reply = quiz.generate(ask("slow?"))
    assert reply.text == "late" and time.perf_counter() - started >= 0.05 and reply.latency_s >= 0.05


def test_an_unscripted_prompt_is_an_error_naming_it() -> None:
    with pytest.raises(BackendError, match="^no scripted reply for prompt 'who\\?'$"):
        scripted(replies={"2+2?": "4"}).generate(ask("who?"))
    assert scripted(default="no idea").generate(ask("who?")).text == "no idea"


def test_models_file_spelling_of_every_answer() -> None:
    backend = scripted(replies={
        "flaky?": {"fail": "transient", "message": "429", "times": 1, "then": "ok", "retry_after_s": 0.5},
        "filtered?": {"fail": "rejected", "reason": "too long"}, "bad?": {"fail": "error"},
        "key?": {"fail": "fatal", "message": "403"}, "slow?": {"delay_s": 0.01, "then": "late"},
        "ctx": [-1, -0.5],
    })
    with pytest.raises(TransientBackendError) as transient:
        backend.generate(ask("flaky?"))
    assert (str(transient.value), transient.value.retry_after_s) == ("429", 0.5)
    assert backend.generate(ask("flaky?")).text == "ok"
    with pytest.raises(SampleRejected, match="too long"):
        backend.generate(ask("filtered?"))
    with pytest.raises(BackendError, match="400 Bad Request"):
        backend.generate(ask("bad?"))
    with pytest.raises(FatalBackendError, match="403"):
        backend.generate(ask("key?"))
    assert backend.generate(ask("slow?")).text == "late"
    assert backend.loglikelihood(LoglikelihoodRequest("ctx", (" A", " B"))).logprobs == (-1.0, -0.5)


@pytest.mark.parametrize(("options", "key"), [
    ({"replies": ["a"]}, "options.replies"),
    ({"replies": {"q": {"fail": "sometimes"}}}, "options.replies"),
    ({"reply": "no_such_module_here:f"}, "options.reply"),
])
def test_bad_options_are_one_line(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        scripted(**options)
    assert str(info.value).startswith(f"{key}: ") and "\n" not in str(info.value)


def test_text_for_an_ll_prompt_is_an_error() -> None:
    with pytest.raises(BackendError, match="must be log-likelihoods"):
        scripted(default="B").loglikelihood(LoglikelihoodRequest("ctx", (" A", " B")))


def _models_file(pytester: pytest.Pytester, replies: dict[str, Any], **profile: Any) -> None:
    body = {"models": {"scripted": {"backend": BACKEND, "options": {"replies": replies}, **profile}}}
    pytester.makefile(".yaml", llm_models=json.dumps(body))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_suite_runs_on_a_scripted_model(pytester: pytest.Pytester, xdist: list[str]) -> None:
    """Retried transients count as retries, a refusal is a miss with its reason, a 400 is an error."""
    replies: dict[str, Any] = dict(mc_replies())
    q1, q4, q5 = (mc_user_message(row) for row in (MC_ROWS[0], MC_ROWS[3], MC_ROWS[4]))
    replies[q1] = {"fail": "transient", "times": 2, "then": replies[q1], "retry_after_s": 0.01}
    replies[q4] = {"fail": "rejected", "reason": "content filter"}
    replies[q5] = {"fail": "error", "message": "400 prompt too long"}
    _models_file(pytester, replies)
    write_mc_suite(pytester)
    result = pytester.runpytest("--llm-model=scripted", "--llm-retries=2", "--llm-report-dir=out",
                                "-p", "no:cacheprovider", *xdist)
    assert sample_outcomes(result) == {"passed": 3, "missed": 2, "errors": 1}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert samples["q1"]["retries"] == 2 and samples["q1"]["correct"] is True
    assert samples["q4"]["rejected"] == "content filter" and samples["q4"]["correct"] is False
    assert samples["q5"]["error"] == "400 prompt too long" and samples["q5"]["correct"] is None


def test_a_fatal_failure_stops_the_run_with_one_line(pytester: pytest.Pytester) -> None:
    _models_file(pytester, {mc_user_message(row): {"fail": "fatal", "message": "401 invalid key"} for row in MC_ROWS})
    write_mc_suite(pytester)
    result = pytester.runpytest("--llm-model=scripted", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert sample_outcomes(result) == {"errors": 1}  # the run stopped at the first sample
    result.stdout.fnmatch_lines(["*Interrupted: pytest-llmeval: 401 invalid key*"])


def test_a_subclass_in_the_users_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_models=textwrap.dedent("""
        from pytest_llmeval.testing import ScriptedBackend

        class AlwaysB(ScriptedBackend):
            def reply(self, request):
                return "The answer is B"
    """))
    pytester.syspathinsert()
    write_mc_suite(pytester)
    result = pytester.runpytest("--llm-backend=my_models:AlwaysB", "--llm-model=b", "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"passed": 2, "missed": 4}, result.stdout.str()


def _readme_block(language: str) -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your suites without a model")[1].split("\n## ")[0]
    return section.split(f"```{language}\n")[1].split("```")[0]


QUESTIONS = [{"id": i, "question": q, "answer": a} for i, q, a in [
    ("fr", "Capital of France?", "Paris"), ("pe", "Capital of Peru?", "Lima"), ("secret", "Tell me a secret", "x"),
    ("long", "Too long", "x"), ("slow", "Slow?", "yes"), ("td", "Capital of Chad?", "N'Djamena")]]


def _contains_suite(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "qa.jsonl", QUESTIONS)
    pytester.makefile(".llmeval.yaml", qa="task: contains\ndata: {format: jsonl, path: qa.jsonl}\nprompt: '{question}'\n")


def test_the_readme_profile_runs_as_it_says(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", llm_models=_readme_block("yaml"))
    _contains_suite(pytester)
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"passed": 3, "missed": 2, "errors": 1}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert samples["pe"]["retries"] == 2 and samples["secret"]["rejected"] == "content filter"
    assert samples["long"]["error"] == "400 prompt too long" and samples["slow"]["correct"] is True
    assert samples["td"]["reply"] == "I do not know"


def test_the_readme_class_runs_as_it_says(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(readme_models=_readme_block("python"))
    pytester.syspathinsert()
    write_jsonl(pytester.path / "qa.jsonl", [{"id": "fr", "question": "Capital of France?", "answer": "B"},
                                             {"id": "pe", "question": "Capital of Peru?", "answer": "C"},
                                             {"id": "td", "question": "Capital of Chad?", "answer": "A"}])
    pytester.makefile(".llmeval.yaml", qa="task: exact_match\ndata: {format: jsonl, path: qa.jsonl}\nprompt: '{question}'\n")
    result = pytester.runpytest("--llm-backend=readme_models:Quiz", "--llm-model=q", "--llm-report-dir=out",
                                "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"passed": 2, "missed": 1}, result.stdout.str()
    retries = {s["id"]: s["retries"] for s in read_samples(pytester.path / "out")}
    assert retries == {"fr": 0, "pe": 1, "td": 0}
