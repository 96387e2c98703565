"""``mode: ll`` through an OpenAI-compatible ``/v1/completions`` endpoint with echoed prompt
log-probabilities: against the real ``llama_cpp.server`` on the bundled SmolLM2 (its scores must be
the local ``llamacpp`` backend's), and against the scripted server for the shapes other servers
answer in (vLLM's, llama.cpp's ``llama-server``, servers without the route).

SmolLM2 has no BOS token, and for such a model llama-cpp-python's server shifts its echoed
log-probabilities by one token (abetlen/llama-cpp-python#1983): plain prompts must stop the run.
Prompts that open with the BOS token's text (``<|im_start|>``) are echoed aligned, so those are the
ones compared with the local backend. The server costs about 40 ms per echoed token (it sorts the
whole vocabulary in Python at each position), so the comparison uses short prompts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import BackendSettings, LoglikelihoodRequest
from pytest_llmeval.backends.openai.chat import OpenAIChatBackend
from pytest_llmeval.backends.openai.logprobs import Echo, score_continuation
from pytest_llmeval.errors import BackendError, FatalBackendError
from tests.e2e import MC_ROWS, read_samples, server_args, write_jsonl
from tests.servers.fake_openai import GENERATED, fake_logprob, fake_tokens

EXAMPLES = Path(__file__).resolve().parents[1] / "example_suites"
BOS = "<|im_start|>"  # SmolLM2's BOS token, as text: a prompt opening with it is echoed aligned
ADVICE = "does not return prompt log-probabilities with echo; use mode: gen"
# Measured: served and local log-probabilities differ by < 1e-6 on these prompts (float32 vs float64
# arithmetic); the server's reuse of a cached prompt prefix could move them a little more.
TOLERANCE = 1e-3


def _backend(url: str, model: str = "auto") -> OpenAIChatBackend:
    return OpenAIChatBackend(BackendSettings(backend="openai", model=model, base_url=url, timeout_s=60, retries=0))


def _example_items(ids: tuple[str, ...]) -> list[LoglikelihoodRequest]:
    """Example suite items as the ll suite asks them, zero-shot, opening with the BOS text."""
    rows = [json.loads(line) for line in (EXAMPLES / "data/world_facts/test.jsonl").read_text().splitlines()]
    requests = []
    for row in (r for r in rows if r["qid"] in ids):
        choices = "\n".join(f"{label}. {text}" for label, text in zip("ABCD", row["options"]))
        requests.append(LoglikelihoodRequest(f"{BOS}{row['question']}\n{choices}\nAnswer:", (" A", " B", " C", " D")))
    return requests


SHORT_CASES = [  # trailing whitespace moved into the continuation, several tokens, non-ASCII
    LoglikelihoodRequest(f"{BOS}The capital of France is ", ("Paris", "the city of light")),
    LoglikelihoodRequest(f"{BOS}中国的首都是", ("北京", "上海")),
    # cloze multiple choice: option texts of several tokens after the prompt, with the leading space
    LoglikelihoodRequest(f"{BOS}Q: What happens if you eat a pomegranate?\nA:",
                         (" Nothing in particular happens.", " You will die.", " You will digest it.")),
]


@pytest.fixture(scope="module")
def served(llama_server_url: str) -> OpenAIChatBackend:
    """One backend for the module, so the server is probed once."""
    return _backend(llama_server_url)


@pytest.mark.slow
@pytest.mark.parametrize("request_", [*_example_items(("geo-00",)), *SHORT_CASES],
                         ids=["example-geo-00", "trailing-space", "chinese", "cloze-options"])
def test_served_scores_and_picks_equal_the_local_backend(served, smollm2_backend, request_):
    served_reply = served.loglikelihood(request_)
    local = smollm2_backend.loglikelihood(request_)
    assert served_reply.logprobs is not None and local.logprobs is not None
    assert max(abs(s - v) for s, v in zip(served_reply.logprobs, local.logprobs)) < TOLERANCE
    pick = lambda values: max(range(len(values)), key=values.__getitem__)
    assert pick(served_reply.logprobs) == pick(local.logprobs)
    assert served_reply.extra["continuation_tokens"] == local.extra["continuation_tokens"]
    assert served_reply.extra["is_greedy"] == local.extra["is_greedy"]


@pytest.mark.slow
def test_a_shifted_server_stops_an_ll_run_up_front(pytester, llama_server_url):
    shutil.copytree(EXAMPLES, pytester.path / "example_suites")
    result = pytester.runpytest("example_suites/world_facts_ll.llmeval.yaml", "--llm-model=local-server",
                                f"--llm-base-url={llama_server_url}", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str()
    lines = [line for line in result.outlines if "shifted by one token" in line]
    assert lines and ADVICE in lines[0] and "abetlen/llama-cpp-python#1983" in lines[0]
    assert not any(s["correct"] for s in read_samples(pytester.path / "out"))


def test_a_batching_server_gets_one_request_per_sample(fake_openai_factory):
    server = fake_openai_factory(completions="echo")
    backend = _backend(server.base_url)
    request = LoglikelihoodRequest("Q: which?\nAnswer: ", ("A", "two words", "B"))
    reply = backend.loglikelihood(request)
    backend.loglikelihood(LoglikelihoodRequest("Q: again?\nAnswer:", (" A", " B")))
    sent = server.completion_requests
    assert len(sent) == 3  # the probe (a list of two), then one request per sample
    assert sent[1]["prompt"] == ["Q: which?\nAnswer:", "Q: which?\nAnswer: A", "Q: which?\nAnswer: two words",
                                 "Q: which?\nAnswer: B"]
    assert (sent[1]["echo"], sent[1]["logprobs"], sent[1]["max_tokens"], sent[1]["temperature"]) == (True, 1, 1, 0)
    # lm-eval's split: the context's trailing space moves into the continuation; <s> and the
    # generated token are not the continuation's
    expected = [sum(fake_logprob(t) for t in fake_tokens("Answer: " + c)[1:]) for c in request.continuations]
    assert reply.logprobs == pytest.approx(expected)
    assert reply.extra["continuation_tokens"] == (1, 2, 1) and reply.extra["is_greedy"] == (True, True, True)
    assert reply.prompt_tokens == sum(len(fake_tokens(p)) + 1 for p in sent[1]["prompt"])


def test_a_server_without_lists_gets_one_request_per_prompt(fake_openai_factory):
    server = fake_openai_factory(completions="echo-single")
    reply = _backend(server.base_url, model="fake-model").loglikelihood(
        LoglikelihoodRequest("Answer:", (" A", " B C")))
    prompts = [r["prompt"] for r in server.completion_requests]
    assert prompts[:2] == [[prompts[1], prompts[1]], prompts[1]]  # the probe: a list (HTTP 500), then alone
    assert prompts[2:] == ["Answer:", "Answer: A", "Answer: B C"]
    assert reply.logprobs == pytest.approx([fake_logprob(" A"), fake_logprob(" B") + fake_logprob(" C")])


@pytest.mark.parametrize(("mode", "why"), [
    (None, "answered HTTP 404"),
    ("null-logprobs", "logprobs: null"),
    ("generated-only", "echo ignored"),
    ("shifted", "shifted by one token"),
])
def test_a_server_without_prompt_logprobs_is_fatal_once(fake_openai_factory, mode, why):
    server = fake_openai_factory(completions=mode)
    backend = _backend(server.base_url)
    request = LoglikelihoodRequest("Answer:", (" A", " B"))
    with pytest.raises(FatalBackendError) as info:
        backend.loglikelihood(request)
    message = str(info.value)
    assert message.startswith(server.base_url) and ADVICE in message and why in message and "\n" not in message
    probes = len(server.completion_requests)
    assert probes <= 2
    with pytest.raises(FatalBackendError):
        backend.loglikelihood(request)
    assert len(server.completion_requests) == probes  # remembered: no more requests


def test_a_rejected_key_on_the_probe_is_the_key_error(fake_openai_factory, monkeypatch):
    monkeypatch.setenv("LLMEVAL_TEST_KEY", "sk-wrong")
    server = fake_openai_factory(completions="echo", required_key="sk-right")
    settings = BackendSettings(backend="openai", model="m", base_url=server.base_url, api_key_env="LLMEVAL_TEST_KEY")
    with pytest.raises(FatalBackendError, match=r"rejected the API key \(HTTP 401\)"):
        OpenAIChatBackend(settings).loglikelihood(LoglikelihoodRequest("Answer:", (" A",)))
    assert len(server.completion_requests) == 1


def test_an_ll_suite_on_a_chat_only_server_stops_before_any_item(pytester, fake_openai_factory):
    server = fake_openai_factory()  # no /v1/completions
    write_jsonl(pytester.path / "data" / "quiz.jsonl", MC_ROWS)
    pytester.makefile(".llmeval.yaml", quiz="task: multiple_choice\nmode: ll\n"
                      "data: {format: jsonl, path: data/quiz.jsonl, fields: {subject: topic}}\n"
                      "prompt: \"{question}\\n{choices}\\nAnswer:\"\n")
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str()
    assert [line for line in result.outlines if ADVICE in line and "HTTP 404" in line]
    assert len(server.completion_requests) == 2 and not server.requests  # the probe, as a list and alone


def _echo(tokens: list[str], text: str) -> Echo:
    return Echo(tuple(tokens), (None, *(-1.0,) * (len(tokens) - 1)), (None,) * len(tokens), text)


@pytest.mark.parametrize(("tokens", "text", "scored"), [
    (["Answer", ":", " B", GENERATED], "Answer: B" + GENERATED, 1),  # the generated token listed last
    (["Answer", ":", " B"], "Answer: B", 1),  # an end-of-sequence token, not listed (llama-cpp-python)
    (["<s>", "Answer", ":", " B", "</s>"], "Answer: B", 1),  # an end-of-sequence token listed (vLLM)
    (["Answer", ":", " B", " C"], "Answer: B C", 2),
])
def test_the_generated_token_is_never_scored(tokens, text, scored):
    context_tokens = [t for t in tokens if t not in (" B", " C", GENERATED, "</s>")] + [GENERATED]
    context = _echo(context_tokens, "Answer:" + GENERATED)
    result = score_continuation(context, _echo(tokens, text), ("Answer:", text.removesuffix(GENERATED)), True, " B")
    assert (result.tokens, result.logprob) == (scored, -float(scored))


def test_a_continuation_without_tokens_is_an_error():
    context = _echo(["Answer", ":", GENERATED], "Answer:" + GENERATED)
    with pytest.raises(BackendError, match="continuation '' has no tokens to score"):
        score_continuation(context, _echo(["Answer", ":", GENERATED], "Answer:" + GENERATED),
                           ("Answer:", "Answer:"), True, "")


def test_an_empty_context_is_an_error_without_a_request(fake_openai_factory):
    server = fake_openai_factory(completions="echo")
    with pytest.raises(BackendError, match="an empty context cannot be scored through /completions"):
        _backend(server.base_url).loglikelihood(LoglikelihoodRequest("  ", ("Hello",)))
    assert not server.completion_requests
