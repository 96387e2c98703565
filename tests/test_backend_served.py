"""The OpenAI backend against the real ``llama_cpp.server`` serving the bundled SmolLM2: the same
model behind the same chat template must give the same greedy answer as the in-process backend."""

from __future__ import annotations

import json
import urllib.request

import pytest

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
from pytest_llmeval.backends.openai.chat import OpenAIChatBackend
from tests.servers.llama_server import LlamaServerError, llama_server

# llama_cpp.server applies repeat_penalty=1.1 unless told otherwise; in-process greedy uses none
PURE_GREEDY = {"extra_body": {"repeat_penalty": 1.0}}
QUESTIONS = ["What is 2+2? Answer with a number.", "List three fruits.", "What is the capital of France?"]


def _served(url: str, **extra: object) -> OpenAIChatBackend:
    return OpenAIChatBackend(BackendSettings(backend="openai", model="smollm2", base_url=url, timeout_s=60,
                                             retries=0, extra=dict(extra)))


def test_the_server_lists_its_model(llama_server_url):
    with urllib.request.urlopen(f"{llama_server_url}/models", timeout=10) as response:
        models = json.load(response)["data"]
    assert len(models) == 1 and models[0]["id"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.parametrize("question", QUESTIONS)
def test_served_greedy_answer_equals_the_local_one(llama_server_url, smollm2_backend, question):
    request = GenerateRequest(({"role": "user", "content": question},), max_tokens=16, temperature=0.0)
    served = _served(llama_server_url, **PURE_GREEDY).generate(request)
    local = smollm2_backend.generate(request)
    assert served.text == local.text and served.text.strip()
    # the same prompt token count: both applied the GGUF's own chat template
    assert (served.prompt_tokens, served.completion_tokens) == (local.prompt_tokens, local.completion_tokens)


def test_a_server_that_cannot_start_reports_its_output(tmp_path):
    not_a_model = tmp_path / "broken.gguf"
    not_a_model.write_bytes(b"this is not a GGUF file")
    with pytest.raises(LlamaServerError, match="llama_cpp.server exited with status") as info:
        with llama_server(not_a_model, timeout_s=60):
            pass
    assert "Failed to load model from file" in str(info.value) and "\n" not in str(info.value)
