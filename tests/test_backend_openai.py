"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1 (no client mocking)."""

from __future__ import annotations

import pytest

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
from pytest_llmeval.backends.openai_chat import OpenAIChatBackend
from pytest_llmeval.backends.registry import create_backend
from pytest_llmeval.errors import BackendError, ConfigError, FatalBackendError

HELLO = GenerateRequest(messages=({"role": "user", "content": "hello"},), max_tokens=7, temperature=0.0, stop=("\n",))


def _backend(url: str, **kwargs) -> OpenAIChatBackend:
    return OpenAIChatBackend(BackendSettings(backend="openai", model="test-model", base_url=url, timeout_s=5, **kwargs))


def test_exact_reply_usage_and_forwarded_settings(fake_openai_factory):
    server = fake_openai_factory(replies={"hello": "hi there"})
    reply = _backend(server.base_url, retries=0).generate(HELLO)
    assert reply.text == "hi there" and reply.completion_tokens == 2 and reply.latency_s > 0
    sent = server.requests[-1]
    assert (sent["model"], sent["max_tokens"], sent["temperature"], sent["stop"]) == ("test-model", 7, 0.0, ["\n"])


def test_transient_500s_are_retried(fake_openai_factory):
    assert _backend(fake_openai_factory(default_reply="ok", fail_first=2).base_url, retries=2).generate(HELLO).text == "ok"
    with pytest.raises(BackendError, match="HTTP 500"):
        _backend(fake_openai_factory(default_reply="ok", fail_first=2).base_url, retries=1).generate(HELLO)


def test_rejected_key_is_fatal_and_never_echoed(fake_openai_factory, monkeypatch):
    monkeypatch.setenv("T_KEY", "sk-secret-987")
    server = fake_openai_factory(default_reply="ok", required_key="sk-other")
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, api_key_env="T_KEY").generate(HELLO)
    assert "401" in str(info.value) and "sk-secret-987" not in str(info.value) and "\n" not in str(info.value)


def test_unknown_model_is_fatal(fake_openai_factory):
    with pytest.raises(FatalBackendError, match="'test-model' not found"):
        _backend(fake_openai_factory(known_models={"other"}).base_url).generate(HELLO)


def test_timeout_and_malformed_body_are_errors(fake_openai_factory):
    slow = _backend(fake_openai_factory(default_reply="late", delay_s=3).base_url, retries=0)
    slow.settings  # noqa: B018
    with pytest.raises(BackendError, match="no reply within"):
        OpenAIChatBackend(BackendSettings(backend="openai", model="m", base_url=slow.settings.base_url, timeout_s=0.5, retries=0)).generate(HELLO)
    with pytest.raises(BackendError, match="malformed"):
        _backend(fake_openai_factory(malformed=True).base_url, retries=0).generate(HELLO)


def test_missing_key_variable_is_a_config_error(fake_openai_factory, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError, match="NOPE_KEY is not set"):
        _backend(fake_openai_factory().base_url, api_key_env="NOPE_KEY")


def test_registry_names_and_classes(tmp_path, monkeypatch):
    (tmp_path / "mybackend.py").write_text(
        "from pytest_llmeval import Backend, Reply\n"
        "class Echo(Backend):\n    def generate(self, request):\n        return Reply(text=request.messages[-1]['content'])\n"
        "class NotOne:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert create_backend(BackendSettings(backend="mybackend:Echo", model="m")).generate(HELLO).text == "hello"
    with pytest.raises(ConfigError, match="not a subclass"):
        create_backend(BackendSettings(backend="mybackend:NotOne", model="m"))
    with pytest.raises(ConfigError, match="unknown backend 'zzz'"):
        create_backend(BackendSettings(backend="zzz", model="m"))


def test_served_bundled_model_matches_local_llama(llama_server_url, smollm2_backend):
    request = GenerateRequest(messages=({"role": "user", "content": "What is the capital of France?"},), max_tokens=12, temperature=0.0)
    # llama_cpp.server applies repeat_penalty 1.1 unless told otherwise; the local backend is pure greedy.
    served = OpenAIChatBackend(BackendSettings(backend="openai", model="SmolLM2-135M-Instruct", base_url=llama_server_url,
                                               timeout_s=60, extra={"extra_body": {"repeat_penalty": 1.0}}))
    assert served.generate(request).text == smollm2_backend.generate(request).text
    assert served.generate(request).text == smollm2_backend.generate(request).text  # and again, after caching
