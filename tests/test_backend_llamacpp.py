"""The llama.cpp backend on the real bundled SmolLM2 GGUF (one model per test session)."""

from __future__ import annotations

import math

from pytest_llmeval.backends.base import GenerateRequest, LoglikelihoodRequest
from pytest_llmeval.backends.bundled import bundled_model_path


def test_bundled_model_file_is_found():
    path = bundled_model_path()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_generation_is_deterministic(smollm2_backend):
    request = GenerateRequest(messages=({"role": "user", "content": "Name a colour."},), max_tokens=8, temperature=0.0)
    first, second = smollm2_backend.generate(request), smollm2_backend.generate(request)
    assert first.text and first.text == second.text and first.completion_tokens


def test_loglikelihood_prefers_the_sensible_continuation(smollm2_backend):
    reply = smollm2_backend.loglikelihood(LoglikelihoodRequest("The capital of France is", (" Paris", " banana")))
    paris, banana = reply.logprobs
    assert all(math.isfinite(v) and v < 0 for v in reply.logprobs) and paris > banana


def test_shared_context_equals_scoring_each_sequence_from_scratch(smollm2_backend):
    request = LoglikelihoodRequest("Question: 2+2?\nA. 3\nB. 4\nAnswer:", (" A", " B", " 4", " four"))
    shared = smollm2_backend.loglikelihood(request).logprobs
    scratch = smollm2_backend.loglikelihood(request, share_context=False).logprobs
    assert all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4) for a, b in zip(shared, scratch))
