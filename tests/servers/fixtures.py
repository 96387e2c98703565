"""Session fixtures for real local servers and the one shared SmolLM2 model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .fake_openai import FakeOpenAIServer


@pytest.fixture(scope="session")
def fake_openai_factory() -> Iterator[Callable[..., FakeOpenAIServer]]:
    started: list[FakeOpenAIServer] = []

    def start(*args: Any, **kwargs: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(*args, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    from pytest_llmeval.backends.bundled import bundled_model_path

    from .llama_server import llama_server

    with llama_server(bundled_model_path()) as url:
        yield url


@pytest.fixture(scope="session")
def smollm2_backend() -> Any:
    from pytest_llmeval.backends.base import BackendSettings
    from pytest_llmeval.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(BackendSettings(backend="llamacpp", model="SmolLM2-135M-Instruct", max_tokens=16))
