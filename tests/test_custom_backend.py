"""Backends of your own: async ones, and ``OpenAIResponseBackend`` subclasses whose code returns
OpenAI-format responses, found by ``package.module:Class`` and by an entry point, run end to end."""

from __future__ import annotations

import asyncio
import inspect
import textwrap
from typing import Any

import pytest

import pytest_llmeval
from pytest_llmeval import (
    BackendError,
    BackendSettings,
    GenerateRequest,
    OpenAIResponseBackend,
    SampleRejected,
    TransientBackendError,
)
from tests.e2e import read_samples, sample_outcomes, write_mc_suite

USER_MODULE = '''
    import asyncio

    from pytest_llmeval import Backend, OpenAIResponseBackend, Reply

    # the answer each question gets: all right but "Red planet?" (a miss)
    ANSWERS = {"Capital of France?": "B", "Capital of Italy?": "A", "Capital of Norway?": "D",
               "H2O is?": "B", "Closest planet to the Sun?": "C", "Red planet?": "D"}


    def question(request):
        return request.messages[-1]["content"].splitlines()[0]


    def response(request):
        """An OpenAI chat completion dict; "H2O is?" is stopped by a content filter."""
        if question(request) == "H2O is?":
            return {"choices": [{"message": {"content": None}, "finish_reason": "content_filter"}]}
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWERS[question(request)]},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}


    class AsyncQuiz(Backend):
        async def generate(self, request):
            await asyncio.sleep(0)
            return Reply(text=f"The answer is {ANSWERS[question(request)]}")


    class DictQuiz(OpenAIResponseBackend):
        def create_chat_completion(self, request):
            return response(request)


    class AsyncDictQuiz(OpenAIResponseBackend):
        async def create_chat_completion(self, request):
            await asyncio.sleep(0)
            return response(request)


    class AsyncScorer(AsyncQuiz):
        """mode: ll, scored by an async loglikelihood: the answer's letter is the likeliest."""

        async def loglikelihood(self, request):
            await asyncio.sleep(0)
            answer = ANSWERS[request.context.splitlines()[0]]
            return Reply(text="", logprobs=tuple(0.0 if c.strip() == answer else -1.0 for c in request.continuations))
'''
# backend class: (passed, missed, the sample refused by the content filter)
EXPECTED = {"AsyncQuiz": (5, 1, None), "DictQuiz": (4, 2, "q4"), "AsyncDictQuiz": (4, 2, "q4")}


def _install(pytester: pytest.Pytester, entry_points: bool) -> None:
    pytester.makepyfile(llmeval_quiz=textwrap.dedent(USER_MODULE))
    pytester.syspathinsert()
    if entry_points:
        dist = pytester.mkdir("llmeval_quiz-1.0.dist-info")
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: llmeval-quiz\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text("[pytest_llmeval.backends]\n" + "".join(
            f"{name.lower()} = llmeval_quiz:{name}\n" for name in EXPECTED))


@pytest.mark.parametrize("found_by", ["module:Class", "entry point"])
@pytest.mark.parametrize("cls", list(EXPECTED))
def test_a_user_backend_runs_a_suite(pytester, cls, found_by):
    _install(pytester, entry_points=found_by == "entry point")
    write_mc_suite(pytester)
    backend = f"llmeval_quiz:{cls}" if found_by == "module:Class" else cls.lower()
    result = pytester.runpytest(f"--llm-backend={backend}", "--llm-model=quiz-model", "--llm-report-dir=out",
                                "-p", "no:cacheprovider")
    passed, missed, refused = EXPECTED[cls]
    assert sample_outcomes(result) == {"passed": passed, "missed": missed}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert all(s["error"] is None for s in samples.values())
    assert [i for i, s in samples.items() if s["rejected"]] == ([refused] if refused else [])
    if refused:
        assert samples[refused]["rejected"] == "refused by the endpoint (finish_reason: content_filter)"
        assert samples[refused]["correct"] is False
        assert (samples["q1"]["prompt_tokens"], samples["q1"]["completion_tokens"]) == (9, 1)


def test_an_async_loglikelihood_scores_an_ll_suite(pytester):
    _install(pytester, entry_points=False)
    write_mc_suite(pytester, extra="mode: ll\n")
    result = pytester.runpytest("--llm-backend=llmeval_quiz:AsyncScorer", "--llm-model=quiz-model",
                                "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert sample_outcomes(result) == {"passed": 5, "missed": 1}, result.stdout.str()
    assert {s["mode"] for s in read_samples(pytester.path / "out")} == {"ll"}


# -- the adapter on its own ----------------------------------------------------------------------

HELLO = GenerateRequest(({"role": "user", "content": "hello"},), max_tokens=5, temperature=0.0, stop=("\n",))
SETTINGS = BackendSettings(backend="tests:Canned", model="vendor-model")


class Canned(OpenAIResponseBackend):
    """Answers every request with ``response``."""

    response: Any = None

    def create_chat_completion(self, request: GenerateRequest) -> Any:
        return self.response


class AsyncCanned(OpenAIResponseBackend):
    async def create_chat_completion(self, request: GenerateRequest) -> Any:
        return {"choices": [{"message": {"content": "async hi"}, "finish_reason": "stop"}]}


def _canned(response: Any) -> Canned:
    backend = Canned(SETTINGS)
    backend.response = response
    return backend


def test_a_response_dict_becomes_a_reply():
    reply = _canned({"choices": [{"message": {"content": "hi"}, "finish_reason": "length"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).generate(HELLO)
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens, reply.extra) == (
        "hi", 3, 1, {"finish_reason": "length"})
    assert _canned({"choices": [{"message": {"content": None}}]}).generate(HELLO).text == ""


def test_an_sdk_response_object_is_read_as_well():
    from openai.types.chat import ChatCompletion

    completion = ChatCompletion.model_validate({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "from sdk"}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}})
    reply = _canned(completion).generate(HELLO)
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("from sdk", 4, 2)


def test_chat_params_are_the_openai_parameters():
    assert _canned(None).chat_params(HELLO) == {
        "model": "vendor-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5,
        "temperature": 0.0, "stop": ["\n"]}


@pytest.mark.parametrize("response", [
    None, [], {}, {"choices": []}, {"choices": ["text"]}, {"choices": [{"text": "completion, not chat"}]},
    {"choices": [{"message": {"content": 42}}]},
])
def test_a_malformed_response_is_a_one_line_transient_error(response):
    with pytest.raises(TransientBackendError) as info:
        _canned(response).generate(HELLO)
    assert str(info.value).startswith("Canned: malformed response: ") and "\n" not in str(info.value)


def test_an_error_object_is_a_backend_error():
    with pytest.raises(BackendError) as info:
        _canned({"error": {"code": "1234", "message": "network error,\nerror id: 7"}}).generate(HELLO)
    assert not isinstance(info.value, TransientBackendError)
    assert str(info.value) == "Canned: the response is an error: network error, error id: 7"


def test_a_content_filter_is_a_refusal_and_the_words_are_the_subclass_s():
    filtered = {"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]}
    with pytest.raises(SampleRejected, match="content_filter"):
        _canned(filtered).generate(HELLO)

    class Vendor(Canned):
        rejected_finish_reasons = frozenset({"sensitive"})

    vendor = Vendor(SETTINGS)
    vendor.response = {"choices": [{"message": {"content": ""}, "finish_reason": "sensitive"}]}
    with pytest.raises(SampleRejected, match=r"finish_reason: sensitive"):
        vendor.generate(HELLO)
    vendor.response = filtered
    assert vendor.generate(HELLO).extra == {"finish_reason": "content_filter"}


def test_an_async_create_makes_an_async_generate():
    assert inspect.iscoroutinefunction(AsyncCanned.generate) and not inspect.iscoroutinefunction(Canned.generate)

    class SyncAgain(AsyncCanned):
        def create_chat_completion(self, request: GenerateRequest) -> Any:  # type: ignore[override]
            return {"choices": [{"message": {"content": "sync again"}}]}

    assert not inspect.iscoroutinefunction(SyncAgain.generate)
    assert SyncAgain(SETTINGS).generate(HELLO).text == "sync again"
    assert asyncio.run(AsyncCanned(SETTINGS).generate(HELLO)).text == "async hi"  # type: ignore[arg-type]


def test_the_public_names_resolve():
    assert pytest_llmeval.__all__ == sorted(pytest_llmeval.__all__)
    backend_api = {"Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Reply",
                   "OpenAIResponseBackend", "BackendError", "FatalBackendError", "SampleRejected",
                   "TransientBackendError"}
    assert backend_api <= set(pytest_llmeval.__all__)
    for name in pytest_llmeval.__all__:
        assert getattr(pytest_llmeval, name) is not None
