"""The one SmolLM2 model the ``hf`` tests share, read through transformers from the bundled GGUF.

Import the fixture into a test module (``from tests.servers.hf_fixtures import hf_backend``) or
load this module as a plugin (``-p tests.servers.hf_fixtures``). The backend module keeps one
loaded model per process, so every ``HFBackend`` the tests or the plugin build on the bundled
model in this process reuses it, whichever module's fixture built it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmeval.backends.hf.backend import HFBackend

__all__ = ["hf_backend"]


@pytest.fixture(scope="session")
def hf_backend() -> Iterator[HFBackend]:
    from pytest_llmeval.backends.base import BackendSettings
    from pytest_llmeval.backends.hf.backend import HFBackend

    backend = HFBackend(BackendSettings(backend="hf", model="SmolLM2-135M-Instruct", max_tokens=16))
    yield backend
    backend.close()
