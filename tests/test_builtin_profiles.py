"""The built-in model profiles: each resolves to working settings, a missing key is one line naming
its variable, ``docs/model-profiles.md`` lists them as they are, and ``model: auto`` asks the
server which model it serves (the real ``llama_cpp.server``, and the scripted one)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends.base import GenerateRequest
from pytest_llmeval.backends.openai.chat import AUTO_MODEL, OpenAIChatBackend
from pytest_llmeval.backends.registry import create_backend
from pytest_llmeval.errors import ConfigError, FatalBackendError
from pytest_llmeval.options import RunOptions
from pytest_llmeval.profiles import BUILTIN_PROFILES, ModelSpec, resolve_models
from tests.e2e import write_mc_suite

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-profiles.md"
HOSTED = [name for name, p in BUILTIN_PROFILES.items() if p.api_key_env]
LOCAL_SERVERS = [name for name, p in BUILTIN_PROFILES.items() if p.model == AUTO_MODEL]
HELLO = GenerateRequest(({"role": "user", "content": "What is 2+2? Answer with a number."},), max_tokens=8,
                        temperature=0.0)


def _options(**given: Any) -> RunOptions:
    """Run options with nothing given but ``given`` (the defaults the command line would give)."""
    defaults: dict[str, Any] = {"cache": "off", "progress_s": 0.0, "strict": False, "models": ()}
    values = {f.name: None for f in dataclasses.fields(RunOptions)} | defaults | given
    return RunOptions(**values)


def _spec(name: str, **given: Any) -> ModelSpec:
    [spec] = resolve_models(_options(models=(name,), **given), [])
    return spec


def test_the_built_in_names():
    assert set(HOSTED) == {"gpt-4o-mini", "glm-4-flash", "internlm3-latest", "internlm2.5-latest",
                           "siliconflow-qwen2.5-7b", "deepseek-chat"}
    assert set(LOCAL_SERVERS) == {"vllm", "lmdeploy", "llamacpp-server"}


@pytest.mark.parametrize("name", HOSTED)
def test_a_hosted_profile_builds_its_backend(name, monkeypatch):
    profile = BUILTIN_PROFILES[name]
    assert profile.api_key_env is not None
    monkeypatch.setenv(profile.api_key_env, "sk-test-not-sent")
    settings = _spec(name).settings
    assert (settings.backend, settings.model, settings.api_key_env) == ("openai", profile.model, profile.api_key_env)
    assert settings.base_url is not None and settings.base_url.startswith("https://")
    backend = create_backend(settings)  # builds without a request
    assert isinstance(backend, OpenAIChatBackend)
    backend.close()


@pytest.mark.parametrize("name", HOSTED)
def test_a_missing_key_names_the_variable(name, monkeypatch):
    variable = BUILTIN_PROFILES[name].api_key_env
    assert variable is not None
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigError) as info:
        create_backend(_spec(name).settings)
    assert str(info.value) == f"api_key_env: environment variable {variable} is not set"


@pytest.mark.parametrize("name", LOCAL_SERVERS)
def test_a_local_server_profile_needs_no_key(name):
    settings = _spec(name).settings
    assert settings.api_key_env is None and settings.base_url is not None
    assert settings.base_url.startswith("http://127.0.0.1:") and settings.base_url.endswith("/v1")
    assert _spec(name, base_url="http://127.0.0.1:9/v1").settings.base_url == "http://127.0.0.1:9/v1"


def test_rates_are_set_only_where_published():
    rates = {name: (p.rate and round(p.rate * 60), p.tokens_per_minute) for name, p in BUILTIN_PROFILES.items()}
    assert rates["gpt-4o-mini"] == (500, 200_000) and rates["siliconflow-qwen2.5-7b"] == (1000, 50_000)
    assert rates["internlm3-latest"] == (10, None) and rates["deepseek-chat"] == (None, None)
    assert all(rates[name] == (None, None) for name in [*LOCAL_SERVERS, "glm-4-flash", "smollm2"])


def test_the_doc_table_lists_every_profile_as_it_is():
    rows: dict[str, str] = {}
    for match in re.finditer(r"^\| `([^`]+)` \|.*$", DOC.read_text(), re.MULTILINE):
        rows.setdefault(match.group(1), match.group(0))  # the first table's row
    assert set(BUILTIN_PROFILES) <= set(rows)
    for name, profile in BUILTIN_PROFILES.items():
        if profile.backend == "openai":
            assert f"`{profile.model}`" in rows[name] and f"`{profile.base_url}`" in rows[name]
            assert (f"`{profile.api_key_env}`" in rows[name]) == bool(profile.api_key_env)


def test_a_missing_key_stops_the_run_with_one_line(pytester, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    write_mc_suite(pytester)
    result = pytester.runpytest("--llm-model=deepseek-chat", "-p", "no:cacheprovider")
    assert result.ret != 0 and "Traceback" not in result.stdout.str() + result.stderr.str()
    assert [line for line in result.outlines + result.errlines
            if "environment variable DEEPSEEK_API_KEY is not set" in line]


# -- model: auto -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_auto_sends_the_model_the_real_server_lists(llama_server_url):
    backend = create_backend(_spec("llamacpp-server", base_url=llama_server_url).settings)
    assert isinstance(backend, OpenAIChatBackend)
    assert backend.model_name().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert "4" in backend.generate(HELLO).text


def test_auto_asks_once_and_sends_that_model(fake_openai_factory):
    server = fake_openai_factory(default_reply="ok")
    backend = create_backend(_spec("vllm", base_url=server.base_url).settings)
    assert backend.generate(HELLO).text == "ok" and backend.generate(HELLO).text == "ok"
    assert [r["model"] for r in server.requests] == ["fake-model", "fake-model"]


@pytest.mark.parametrize(("served", "listed"), [({"qwen-7b", "llama-8b"}, "2 models (llama-8b, qwen-7b)"),
                                                (set(), "no model")])
def test_auto_with_no_single_model_is_fatal_with_one_line(fake_openai_factory, served, listed):
    server = fake_openai_factory(default_reply="ok", known_models=served)
    backend = create_backend(_spec("lmdeploy", base_url=server.base_url).settings)
    with pytest.raises(FatalBackendError) as info:
        backend.generate(HELLO)
    assert str(info.value) == (f"{server.base_url}: model: auto, but GET /models lists {listed}; "
                               "name one in the profile (model:)")
    assert not server.requests
