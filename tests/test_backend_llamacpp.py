"""The llama.cpp backend on the real bundled SmolLM2 GGUF (one loaded model per test session)."""

from __future__ import annotations

import math
import threading

import pytest

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest, LoglikelihoodRequest
from pytest_llmeval.backends.bundled import BUNDLED_MODEL_NAME, bundled_model_path
from pytest_llmeval.backends.llamacpp import LlamaCppBackend, encode_pairs, load_model
from pytest_llmeval.errors import BackendError, ConfigError

FRANCE = LoglikelihoodRequest("The capital of France is", (" Paris", " banana"))
# contexts with trailing whitespace, an empty context, multi-token and non-ASCII continuations
SCORING_CASES = [
    LoglikelihoodRequest("Question: 2+2?\nA. 3\nB. 4\nAnswer:", (" A", " B", " 4", " four")),
    LoglikelihoodRequest("The capital of France is ", ("Paris", "banana", "the city of light")),
    LoglikelihoodRequest("Translate to French: cat =>\n", ("chat", " chien", "le chat noir")),
    LoglikelihoodRequest("", ("Hello world", " The")),
    LoglikelihoodRequest("中国的首都是", ("北京", "上海")),
]


def _ask(text: str, max_tokens: int = 12, stop: tuple[str, ...] = ()) -> GenerateRequest:
    return GenerateRequest(({"role": "user", "content": text},), max_tokens=max_tokens, temperature=0.0, stop=stop)


def test_the_bundled_gguf_is_found():
    path = bundled_model_path()
    assert BUNDLED_MODEL_NAME == "smollm2"
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_greedy_generation_is_deterministic_whatever_ran_before(smollm2_backend):
    request = _ask("Name a colour.", max_tokens=40)
    first = smollm2_backend.generate(request)
    again = smollm2_backend.generate(request)  # the same prompt is in the kv-cache now
    smollm2_backend.generate(_ask("Write a short poem about the sea."))
    smollm2_backend.loglikelihood(FRANCE)
    last = smollm2_backend.generate(request)
    assert first.text.strip() and first.text == again.text == last.text
    assert 0 < first.completion_tokens <= 40 and first.prompt_tokens > 10 and first.latency_s > 0


def test_generation_honours_max_tokens_and_stop(smollm2_backend):
    full = smollm2_backend.generate(_ask("List three fruits.", max_tokens=30)).text
    assert "\n" in full
    assert smollm2_backend.generate(_ask("List three fruits.", max_tokens=30, stop=("\n",))).text == full.split("\n")[0]
    assert smollm2_backend.generate(_ask("List three fruits.", max_tokens=2)).completion_tokens == 2


def test_the_sensible_continuation_is_more_likely(smollm2_backend):
    reply = smollm2_backend.loglikelihood(FRANCE)
    paris, banana = reply.logprobs
    assert all(math.isfinite(v) and v < 0 for v in reply.logprobs) and paris > banana
    assert reply.text == "" and reply.extra["continuation_tokens"] == (1, 1)
    assert reply.extra["is_greedy"] == (True, False)


@pytest.mark.parametrize("request_", SCORING_CASES, ids=lambda r: repr(r.context[:12]))
def test_the_shared_context_gives_the_numbers_of_scoring_each_sequence_from_scratch(smollm2_backend, request_):
    shared = smollm2_backend.loglikelihood(request_).logprobs
    scratch = smollm2_backend.loglikelihood(request_, share_context=False).logprobs
    assert len(shared) == len(request_.continuations)
    assert all(math.isfinite(v) and v < 0 for v in shared)
    assert shared == pytest.approx(scratch, abs=1e-5, rel=0)


def test_a_trailing_space_of_the_context_moves_to_the_continuation(smollm2_backend):
    moved = smollm2_backend.loglikelihood(LoglikelihoodRequest("The capital of France is ", ("Paris",)))
    assert moved.logprobs == pytest.approx(smollm2_backend.loglikelihood(FRANCE).logprobs[:1], abs=1e-6)
    context, (paris,) = encode_pairs(smollm2_backend._model.llm, "The capital of France is ", ["Paris"])
    assert smollm2_backend._model.llm.detokenize(paris) == b" Paris"


def test_log_probabilities_follow_the_chain_rule(smollm2_backend):
    whole = smollm2_backend.loglikelihood(LoglikelihoodRequest("The capital of France is", (" Paris.",)))
    first = smollm2_backend.loglikelihood(LoglikelihoodRequest("The capital of France is", (" Paris",)))
    rest = smollm2_backend.loglikelihood(LoglikelihoodRequest("The capital of France is Paris", (".",)))
    assert whole.extra["continuation_tokens"] == (2,)
    assert whole.logprobs[0] == pytest.approx(first.logprobs[0] + rest.logprobs[0], abs=1e-5)


def test_option_texts_cost_one_pass_over_their_context(smollm2_backend):
    """Counted by llama.cpp itself: the tokens it evaluated in batches (every continuation here is
    two or more tokens, so none is a single-token decode, which it counts apart)."""
    import llama_cpp

    llm = smollm2_backend._model.llm
    request = LoglikelihoodRequest("Q: What happens if you eat a pomegranate?\nA:",
                                   (" Nothing in particular happens.", " You will have to spend winter in the underworld.",
                                    " You will die."))
    context, continuations = encode_pairs(llm, request.context, request.continuations)
    evaluated = []
    for share in (True, False):
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        evaluated.append(smollm2_backend.loglikelihood(request, share_context=share))
        evaluated[-1].extra["evaluated"] = llama_cpp.llama_perf_context(llm._ctx.ctx).n_p_eval
    shared, scratch = evaluated
    assert min(len(c) for c in continuations) >= 2
    assert shared.extra["evaluated"] == shared.prompt_tokens == len(context) + sum(len(c) for c in continuations)
    assert scratch.extra["evaluated"] == shared.extra["evaluated"] + 2 * len(context)
    assert shared.logprobs == pytest.approx(scratch.logprobs, abs=1e-5, rel=0)


def test_an_empty_context_is_the_bos_token_as_lm_eval_conditions_on_it(smollm2_backend):
    """lm-eval's unconditional requests (acc_mutual_info): the prefix token alone as the context;
    a continuation that itself opens with that token's text does not count it twice."""
    llm = smollm2_backend._model.llm
    assert encode_pairs(llm, "", [" Paris", "<|im_start|> Paris"]) == ([llm.token_bos()], [[7042], [7042]])
    empty = smollm2_backend.loglikelihood(LoglikelihoodRequest("", (" P ∨ ¬P", " Paris", "<|im_start|> Paris")))
    after_bos = smollm2_backend.loglikelihood(LoglikelihoodRequest("<|im_start|>", (" P ∨ ¬P", " Paris")))
    assert empty.logprobs == pytest.approx([*after_bos.logprobs, after_bos.logprobs[1]], abs=1e-5)


def test_an_empty_continuation_or_an_overlong_context_is_an_error(smollm2_backend):
    with pytest.raises(BackendError, match="has no tokens"):
        smollm2_backend.loglikelihood(LoglikelihoodRequest("Hello", ("",)))
    with pytest.raises(BackendError, match="more than n_ctx=2048") as info:
        smollm2_backend.loglikelihood(LoglikelihoodRequest("word " * 2100, (" end",)))
    assert "\n" not in str(info.value)
    with pytest.raises(BackendError, match="llama.cpp: ") as info:
        smollm2_backend.generate(_ask("word " * 2100))
    assert "\n" not in str(info.value)
    assert smollm2_backend.loglikelihood(FRANCE).logprobs[0] > -5  # the model still works afterwards


def test_one_loaded_model_per_file_and_context_size(smollm2_backend):
    again = LlamaCppBackend(BackendSettings(backend="llamacpp", model="x", model_path=str(bundled_model_path())))
    assert again._model is smollm2_backend._model is load_model(bundled_model_path(), 2048)
    small = LlamaCppBackend(BackendSettings(backend="llamacpp", model="x", extra={"n_ctx": 512}))
    assert small._model is not smollm2_backend._model and small._model.llm.n_ctx() == 512
    expected = smollm2_backend.loglikelihood(FRANCE).logprobs
    assert small.loglikelihood(FRANCE).logprobs == pytest.approx(expected, abs=1e-5)


def test_concurrent_use_is_serialised_by_the_lock(smollm2_backend):
    expected_text = smollm2_backend.generate(_ask("What is 2+2?")).text
    expected_ll = smollm2_backend.loglikelihood(SCORING_CASES[0]).logprobs
    results: list[object] = []

    def work(i: int) -> None:
        if i % 2:
            results.append(smollm2_backend.generate(_ask("What is 2+2?")).text)
        else:
            results.append(smollm2_backend.loglikelihood(SCORING_CASES[0]).logprobs)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == sorted([expected_text] * 3 + [str(expected_ll)] * 3)


@pytest.mark.parametrize("extra", [{"n_ctx": "big"}, {"n_ctx": 0}, {"n_threads": -1}])
def test_bad_options_are_config_errors(extra):
    key = next(iter(extra))
    with pytest.raises(ConfigError, match=f"^{key}: expected a positive integer"):
        LlamaCppBackend(BackendSettings(backend="llamacpp", model="x", extra=extra))


def test_a_missing_model_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="^model_path: GGUF file not found: .*nope.gguf$"):
        LlamaCppBackend(BackendSettings(backend="llamacpp", model="x", model_path=str(tmp_path / "nope.gguf")))
