"""Backend names, user classes and entry points resolve lazily; the package import stays cheap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import pytest_llmeval.backends as backends
from pytest_llmeval.backends.base import Backend, BackendSettings, GenerateRequest
from pytest_llmeval.backends.llamacpp import LlamaCppBackend
from pytest_llmeval.backends.openai.chat import OpenAIChatBackend
from pytest_llmeval.backends.registry import KNOWN_BACKENDS, create_backend, resolve_backend_class
from pytest_llmeval.errors import ConfigError

HELLO = GenerateRequest(messages=({"role": "user", "content": "hello"},), max_tokens=4, temperature=0.0)
USER_MODULE = """
    from pytest_llmeval import Backend, Reply

    class Echo(Backend):
        def generate(self, request):
            return Reply(text=request.messages[-1]["content"] + " from " + self.settings.model)

    class Outer:
        class Inner(Echo):
            pass

    class NotOne:
        pass
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "llmeval_user_backends.py").write_text(textwrap.dedent(USER_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "llmeval_user_backends"
    sys.modules.pop("llmeval_user_backends", None)


def _settings(backend: str, **kwargs: object) -> BackendSettings:
    return BackendSettings(backend=backend, model="m", **kwargs)  # type: ignore[arg-type]


def test_the_built_in_names(fake_openai_factory, smollm2_backend):
    assert list(KNOWN_BACKENDS) == ["openai", "llamacpp", "hf", "http"]
    served = create_backend(_settings("openai", base_url=fake_openai_factory(default_reply="ok").base_url))
    assert isinstance(served, OpenAIChatBackend) and served.generate(HELLO).text == "ok"
    local = create_backend(_settings("llamacpp"))
    assert isinstance(local, LlamaCppBackend) and local._model is smollm2_backend._model


def test_a_user_class_by_module_and_name(user_module):
    assert create_backend(_settings(f"{user_module}:Echo")).generate(HELLO).text == "hello from m"
    assert resolve_backend_class(f"{user_module}:Outer.Inner").__name__ == "Inner"


@pytest.mark.parametrize(("target", "message"), [
    (":NotOne", "^llm-backend: backend 'llmeval_user_backends:NotOne' is not a subclass of pytest_llmeval.Backend$"),
    (":Missing", "^llm-backend: module 'llmeval_user_backends' has no 'Missing'"),
    ("_nope:Echo", "^llm-backend: cannot import 'llmeval_user_backends_nope' .*ModuleNotFoundError"),
])
def test_a_bad_user_class_is_a_config_error(user_module, target, message):
    module, _, name = target.partition(":")
    with pytest.raises(ConfigError, match=message):
        create_backend(_settings(f"{user_module}{module}:{name}"))


def test_an_entry_point_of_the_backends_group(user_module, tmp_path):
    dist = tmp_path / "llmeval_user_backends-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: llmeval-user-backends\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[pytest_llmeval.backends]\necho = {user_module}:Echo\nbroken = {user_module}:NotOne\n")
    assert create_backend(_settings("echo")).generate(HELLO).text == "hello from m"
    with pytest.raises(ConfigError, match="not a subclass"):
        create_backend(_settings("broken"))
    # doctor checks each installed entry point as a run resolves it: a class that is no Backend fails there too
    from pytest_llmeval.doctor import _entry_points

    checks = {check.name: check for check in _entry_points()}
    assert checks["backend echo"].status == "ok" and checks["backend broken"].status == "FAIL"
    assert checks["backend broken"].text == "backend 'broken' is not a subclass of pytest_llmeval.Backend"


def test_an_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        create_backend(_settings("x"))
    assert str(info.value) == ("llm-backend: unknown backend 'x' (expected openai, llamacpp, hf, http, an entry point of "
                               "pytest_llmeval.backends, or package.module:Class)")


def test_the_package_exports_sorted_names_that_all_resolve():
    assert backends.__all__ == sorted(backends.__all__)
    for name in backends.__all__:
        assert getattr(backends, name) is not None
    assert issubclass(backends.OpenAIChatBackend, Backend) and backends.BUNDLED_MODEL_NAME == "smollm2"


def test_importing_the_backends_loads_no_sdk():
    code = ("import sys, pytest_llmeval.backends as b, pytest_llmeval.backends.registry, "
            "pytest_llmeval.backends.openai.chat, pytest_llmeval.backends.llamacpp; b.bundled_model_path(); "
            "print(sorted(m for m in ('openai', 'llama_cpp', 'numpy', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
