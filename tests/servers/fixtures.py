"""Session fixtures for real local servers and the one shared SmolLM2 model.

Load with ``pytest_plugins = ["tests.servers.fixtures"]`` (``tests/conftest.py`` imports the fixtures) or
``-p tests.servers.fixtures``. Everything heavy is imported inside the fixture that needs it.

- ``fake_openai_factory(**config)``: start a ``FakeOpenAIServer`` (see ``fake_openai``); every
  server started is stopped at session end.
- ``corpus_server``: one ``FaultServer`` for the session, whose per-prompt scripts the bad-input
  corpus fills case by case (each case's prompts name the case, so scripts never mix).
- ``llama_server_url``: one real ``llama_cpp.server`` on the bundled SmolLM2 for the session.
- ``smollm2_backend``: one ``LlamaCppBackend`` on the bundled SmolLM2 for the session; the
  plugin's own llamacpp backends in this process reuse the same loaded model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_llmeval.backends.llamacpp import LlamaCppBackend

    from .fake_openai import FakeOpenAIServer
    from .fault_server import FaultServer

__all__ = ["corpus_server", "fake_openai_factory", "llama_server_url", "smollm2_backend"]


@pytest.fixture(scope="session")
def fake_openai_factory() -> Iterator[Callable[..., FakeOpenAIServer]]:
    from .fake_openai import FakeOpenAIServer

    started: list[FakeOpenAIServer] = []

    def start(*args: Any, **config: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(*args, **config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def corpus_server() -> Iterator[FaultServer]:
    from .fault_server import FaultServer

    with FaultServer(hang_s=30, retry_after_s=0.05) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    from .llama_server import llama_server

    with llama_server() as url:
        yield url


@pytest.fixture(scope="session")
def smollm2_backend() -> Iterator[LlamaCppBackend]:
    from pytest_llmeval.backends.base import BackendSettings
    from pytest_llmeval.backends.bundled import BUNDLED_MODEL_NAME
    from pytest_llmeval.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(BackendSettings(backend="llamacpp", model=BUNDLED_MODEL_NAME, max_tokens=16))
    yield backend
    backend.close()
