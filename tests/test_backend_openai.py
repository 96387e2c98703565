"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (the SDK is not mocked)."""

from __future__ import annotations

import json
import os
import socket
import string
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
from pytest_llmeval.backends.openai.chat import OpenAIChatBackend
from pytest_llmeval.errors import (
    BackendError,
    ConfigError,
    FatalBackendError,
    TransientBackendError,
)
from tests.servers.fake_openai import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
HELLO = GenerateRequest(messages=({"role": "user", "content": "hello"},), max_tokens=7, temperature=0.0)


def _backend(url: str, model: str = "test-model", **kwargs: object) -> OpenAIChatBackend:
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("retries", 0)
    settings = BackendSettings(backend="openai", model=model, base_url=url, **kwargs)  # type: ignore[arg-type]
    return OpenAIChatBackend(settings)


def _is_one_line_without(message: str, secret: str) -> bool:
    return "\n" not in message and "\r" not in message and secret not in message


def test_reply_is_looked_up_by_the_last_user_message(fake_openai_factory):
    server = fake_openai_factory({"hello": "hi there", "2+2?": "4"}, default_reply="no idea")
    backend = _backend(server.base_url)
    conversation = ({"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "hi there"}, {"role": "user", "content": "2+2?"})
    assert backend.generate(HELLO).text == "hi there"
    assert backend.generate(GenerateRequest(conversation, max_tokens=5, temperature=0.0)).text == "4"
    assert backend.generate(GenerateRequest(({"role": "user", "content": "hello "},), 5, 0.0)).text == "no idea"


def test_settings_are_forwarded_and_usage_is_read(fake_openai_factory):
    server = fake_openai_factory({"hello": "hi there"})
    request = GenerateRequest(messages=HELLO.messages, max_tokens=7, temperature=0.3, stop=("\n", "END"))
    reply = _backend(server.base_url).generate(request)
    sent = server.requests[-1]
    assert (sent.body["model"], sent.body["max_tokens"], sent.body["temperature"], sent.body["stop"]) == (
        "test-model", 7, 0.3, ["\n", "END"])
    assert sent.body["messages"] == [{"role": "user", "content": "hello"}] == sent["messages"]
    assert sent.headers["authorization"] == "Bearer EMPTY"  # no api_key_env: the placeholder key
    assert (reply.prompt_tokens, reply.completion_tokens) == (1, 2)
    assert reply.latency_s > 0 and reply.extra["finish_reason"] == "stop"


def test_no_stop_sends_no_stop_field_and_extra_body_is_merged(fake_openai_factory):
    server = fake_openai_factory(default_reply="ok")
    _backend(server.base_url, extra={"extra_body": {"repeat_penalty": 1.0}}).generate(HELLO)
    assert "stop" not in server.requests[-1].body and server.requests[-1].body["repeat_penalty"] == 1.0
    with pytest.raises(ConfigError, match="^extra_body: expected a mapping"):
        _backend(server.base_url, extra={"extra_body": ["repeat_penalty"]})


def test_the_key_comes_from_the_named_environment_variable(fake_openai_factory, monkeypatch):
    monkeypatch.setenv("LLMEVAL_TEST_KEY", "sk-good-123")
    server = fake_openai_factory(default_reply="ok", required_key="sk-good-123")
    assert _backend(server.base_url, api_key_env="LLMEVAL_TEST_KEY").generate(HELLO).text == "ok"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-good-123"


def test_a_missing_key_variable_is_a_config_error(fake_openai_factory, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        _backend(fake_openai_factory().base_url, api_key_env="OPENAI_API_KEY")
    assert str(info.value) == "api_key_env: environment variable OPENAI_API_KEY is not set"


def test_a_rejected_key_is_fatal_and_never_echoed(fake_openai_factory, monkeypatch):
    monkeypatch.setenv("LLMEVAL_TEST_KEY", "sk-secret-987")
    server = fake_openai_factory(default_reply="ok", required_key="sk-other")  # echoes the key it got
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, api_key_env="LLMEVAL_TEST_KEY", retries=2).generate(HELLO)
    assert str(info.value) == (f"{server.base_url}: the endpoint rejected the API key (HTTP 401) "
                               "for model 'test-model'")
    assert len(server.requests) == 1  # a rejected key is not retried


def test_forbidden_is_fatal_too(fake_openai_factory):
    server = fake_openai_factory(fail_first=1, fail_status=403)
    with pytest.raises(FatalBackendError, match=r"rejected the API key \(HTTP 403\)"):
        _backend(server.base_url).generate(HELLO)


def test_an_unknown_model_is_fatal(fake_openai_factory):
    server = fake_openai_factory(known_models={"other"})
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, retries=2).generate(HELLO)
    assert str(info.value) == (f"{server.base_url}: model 'test-model' not found (HTTP 404 for POST "
                               f"{server.base_url}/chat/completions): The model `test-model` does not exist or "
                               "you do not have access to it.")
    assert len(server.requests) == 1


def test_a_500_is_transient_and_sent_once(fake_openai_factory):
    """The backend makes one attempt; retrying is the engine's job (tests/test_engine_*)."""
    server = fake_openai_factory(default_reply="ok", fail_first=2)
    with pytest.raises(TransientBackendError, match="HTTP 500 for model 'test-model'") as info:
        _backend(server.base_url, retries=2).generate(HELLO)
    assert info.value.retry_after_s is None and len(server.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_transient_with_retry_after(fake_openai_factory, status):
    server = fake_openai_factory(fail_first=10, fail_status=status, retry_after_s=2)
    with pytest.raises(TransientBackendError, match=f"HTTP {status}") as info:
        _backend(server.base_url, retries=2).generate(HELLO)
    assert info.value.retry_after_s == 2 and len(server.requests) == 1


def test_other_client_errors_are_errors_with_the_server_message(fake_openai_factory):
    body = json.dumps({"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}})
    server = fake_openai_factory(fail_first=1, fail_status=400, fail_body=body)
    with pytest.raises(BackendError) as info:
        _backend(server.base_url, retries=2).generate(HELLO)
    assert not isinstance(info.value, FatalBackendError)
    assert str(info.value) == f"{server.base_url}: HTTP 400 for model 'test-model': max_tokens is too large"
    assert len(server.requests) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(string.ascii_letters + string.digits + "-_.", min_size=6, max_size=60))
def test_an_echoed_key_is_scrubbed_from_every_message(monkeypatch, key):
    monkeypatch.setenv("LLMEVAL_TEST_KEY", key)
    echo = json.dumps({"error": {"message": f"bad request\nfor key {key}\n({key})", "type": "x"}})
    with FakeOpenAIServer(fail_first=1, fail_status=422, fail_body=echo) as server:
        with pytest.raises(BackendError) as info:
            _backend(server.base_url, api_key_env="LLMEVAL_TEST_KEY").generate(HELLO)
    assert _is_one_line_without(str(info.value), key) and "***" in str(info.value)


def test_a_hang_past_the_timeout_is_an_error(fake_openai_factory):
    server = fake_openai_factory(default_reply="late", delay_s=3)
    started = time.monotonic()
    with pytest.raises(TransientBackendError, match=r"no reply within 0\.3 s for model 'test-model'"):
        _backend(server.base_url, timeout_s=0.3).generate(HELLO)
    assert time.monotonic() - started < 2.5


def test_a_refused_connection_is_an_error():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientBackendError, match="connection failed: ") as info:
        _backend(f"http://127.0.0.1:{port}/v1").generate(HELLO)
    assert not isinstance(info.value, FatalBackendError)


@pytest.mark.parametrize("body", ["{}", '{"choices": []}', '{"choices": [{"index": 0}]}',
                                  '{"choices": [{"message": "hi"}]}', "not json", ""])
def test_a_malformed_200_is_an_error(fake_openai_factory, body):
    server = fake_openai_factory(fail_first=1, fail_status=200, fail_body=body)
    with pytest.raises(BackendError, match="malformed reply for model 'test-model'") as info:
        _backend(server.base_url).generate(HELLO)
    assert "\n" not in str(info.value) and not isinstance(info.value, FatalBackendError)


def test_a_null_content_is_an_empty_reply(fake_openai_factory):
    body = json.dumps({"choices": [{"index": 0, "finish_reason": "length",
                                    "message": {"role": "assistant", "content": None}}]})
    server = fake_openai_factory(fail_first=1, fail_status=200, fail_body=body)
    reply = _backend(server.base_url).generate(HELLO)
    assert (reply.text, reply.prompt_tokens, reply.extra["finish_reason"]) == ("", None, "length")


def test_one_backend_serves_many_threads(fake_openai_factory):
    server = fake_openai_factory({f"q{i}": f"a{i}" for i in range(16)}, delay_s=0.05)
    backend = _backend(server.base_url)
    def ask(i: int) -> tuple[int, str]:
        return i, backend.generate(GenerateRequest(({"role": "user", "content": f"q{i}"},), 4, 0.0)).text

    with ThreadPoolExecutor(16) as pool:  # 16 requests at once through one backend
        replies = dict(pool.map(ask, range(16)))
    assert replies == {i: f"a{i}" for i in range(16)} and len(server.requests) == 16


def test_close_releases_the_client(fake_openai_factory):
    backend = _backend(fake_openai_factory(default_reply="ok").base_url)
    assert backend.generate(HELLO).text == "ok"
    backend.close()
    with pytest.raises(BackendError):
        backend.generate(HELLO)


def test_the_fake_server_runs_as_its_own_process(tmp_path, monkeypatch):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"hello": "from another process"}), encoding="utf-8")
    command = [sys.executable, "-m", "tests.servers.fake_openai", "--replies", str(replies),
               "--required-key", "sk-proc", "--known-model", "test-model"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY" and ready[1].startswith("http://127.0.0.1:") and ready[1].endswith("/v1")
        monkeypatch.setenv("LLMEVAL_TEST_KEY", "sk-proc")
        assert _backend(ready[1], api_key_env="LLMEVAL_TEST_KEY").generate(HELLO).text == "from another process"
        with pytest.raises(FatalBackendError, match="not found"):
            _backend(ready[1], model="gpt-x", api_key_env="LLMEVAL_TEST_KEY").generate(HELLO)
        with pytest.raises(FatalBackendError, match="rejected the API key"):
            _backend(ready[1]).generate(HELLO)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_plain_chat_requests_never_import_the_sdk(fake_openai_factory):
    """The hot path (a chat completion, not streamed) goes straight onto the pool: a process that
    only sends those never pays the SDK's import."""
    server = fake_openai_factory({"hello": "raw"})
    script = ("import sys\nfrom pytest_llmeval.backends.base import BackendSettings, GenerateRequest\n"
              "from pytest_llmeval.backends.openai.chat import OpenAIChatBackend\n"
              f"b = OpenAIChatBackend(BackendSettings(backend='openai', model='test-model', base_url={server.base_url!r}))\n"
              "r = b.generate(GenerateRequest(({'role': 'user', 'content': 'hello'},), 7, 0.0))\n"
              "print(r.text, 'openai' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS")}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["raw", "False"], out.stderr


@pytest.mark.parametrize(("status", "body", "retry_after_s"), [
    (200, "not json", None), (200, '{"choices": [{"message": "hi"}]}', None), (200, '"text"', None),
    (500, '{"error": {"message": "engine down"}}', 1.5), (429, "slow down", 2.0), (503, "", None),
    (422, '{"error": "a string"}', None), (400, '{"message": "top-level message"}', None),
    (404, '{"error": {"message": "The model does not exist"}}', None), (404, "<html>nope</html>", None),
    (403, "{}", None)])
def test_the_raw_path_reads_every_reply_as_the_sdk_path_does(fake_openai_factory, monkeypatch, status, body,
                                                              retry_after_s):
    """The contract of the hot path: a reply or failure gives the same result, line and wait hint
    on the raw path as through the SDK (which a run with ``OPENAI_PROJECT_ID`` set takes)."""
    server = fake_openai_factory(fail_first=2, fail_status=status, fail_body=body, retry_after_s=retry_after_s)
    monkeypatch.delenv("OPENAI_PROJECT_ID", raising=False)
    raw = _backend(server.base_url)
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    sdk = _backend(server.base_url)

    def outcome(backend: OpenAIChatBackend) -> tuple[object, ...]:
        try:
            reply = backend.generate(HELLO)
        except BackendError as exc:
            return type(exc).__name__, str(exc), getattr(exc, "retry_after_s", None)
        return reply.text, reply.prompt_tokens, reply.extra

    assert outcome(raw) == outcome(sdk)
    assert "openai-project" in {k.lower() for k in server.requests[1].headers}  # the second went through the SDK


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "bad-gzip"])
def test_a_compressed_reply_reads_as_through_the_sdk(monkeypatch, compressed):
    """Servers (OpenAI's among them) compress replies: the raw path decodes them as httpx does,
    and a body that does not decode fails with the SDK path's line."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    reply = json.dumps({"choices": [{"message": {"content": "zipped é"}, "finish_reason": "stop"}]}).encode()

    class Gzipping(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            body = gzip.compress(reply) if compressed else b"not gzip"
            self.send_response(200)
            for name, value in (("content-type", "application/json"), ("content-encoding", "gzip"),
                                ("content-length", str(len(body)))):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gzipping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        monkeypatch.delenv("OPENAI_PROJECT_ID", raising=False)
        raw = _backend(url)
        monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
        sdk = _backend(url)
        outcomes = []
        for backend in (raw, sdk):
            try:
                outcomes.append(backend.generate(HELLO).text)
            except BackendError as exc:
                outcomes.append(str(exc))
    finally:
        server.shutdown()
        server.server_close()
    assert outcomes[0] == outcomes[1] == ("zipped é" if compressed else outcomes[1])
    assert compressed or "connection failed: DecodingError: " in outcomes[0]
