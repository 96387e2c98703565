"""The ``http`` backend against real TGI-, Triton- and MindIE-protocol servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import string
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
from pytest_llmeval.backends.http.backend import HTTPBackend
from pytest_llmeval.backends.registry import create_backend
from pytest_llmeval.errors import (
    BackendError,
    ConfigError,
    FatalBackendError,
    SampleRejected,
    TransientBackendError,
)
from tests.servers.native_servers import Fault, NativeServer

# until the root conftest lists it: the native-protocol server fixtures

QUESTION = "What is the capital of France?"
ANSWER = "The capital is Paris.\nIt is also the largest city."


def _backend(url: str, options: dict[str, Any] | None = None, model: str = "m", **kwargs: Any) -> HTTPBackend:
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("retries", 0)
    return HTTPBackend(BackendSettings(backend="http", model=model, base_url=url, extra=dict(options or {}), **kwargs))


def _ask(text: str = QUESTION, *, max_tokens: int = 16, temperature: float = 0.0, stop: tuple[str, ...] = (),
         system: str | None = None) -> GenerateRequest:
    messages = ({"role": "system", "content": system},) if system else ()
    return GenerateRequest(messages + ({"role": "user", "content": text},), max_tokens, temperature, stop)


def _one_line_without(error: BaseException, *secrets: str) -> str:
    message = str(error)
    assert "\n" not in message and "\r" not in message
    assert not any(secret in message for secret in secrets)
    return message


@pytest.fixture
def servers(native_server_factory):
    def start(protocol: str, **config: Any) -> NativeServer:
        return native_server_factory(protocol, {QUESTION: ANSWER}, **config)

    return start


# -- what each preset sends, and how it reads the reply -------------------------------------------

GREEDY_BODIES = {
    "tgi": {"inputs": QUESTION, "parameters": {"max_new_tokens": 16, "do_sample": False, "stop": ["\n"],
                                               "details": True, "return_full_text": False}},
    "triton": {"text_input": QUESTION, "parameters": {"max_tokens": 16, "temperature": 0.0, "stream": False,
                                                      "exclude_input_in_output": True}},
    "mindie": {"inputs": QUESTION, "stream": False,
               "parameters": {"max_new_tokens": 16, "do_sample": False, "details": True}},
}
PATHS = {("tgi", False): "/generate", ("tgi", True): "/generate_stream",
         ("triton", False): "/v2/models/m/generate", ("triton", True): "/v2/models/m/generate_stream",
         ("mindie", False): "/infer", ("mindie", True): "/infer"}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("protocol", ["tgi", "triton", "mindie"])
def test_each_preset_sends_its_documented_greedy_body(servers, protocol, stream):
    server = servers(protocol)
    reply = _backend(server.base_url, {"preset": protocol, "stream": stream}).generate(_ask(stop=("\n",)))
    sent = server.requests[-1]
    expected = json.loads(json.dumps(GREEDY_BODIES[protocol]))
    if protocol == "triton":
        expected["parameters"]["stream"] = stream
    if protocol == "mindie":
        expected["stream"] = stream
    assert (sent.path, sent.body) == (PATHS[protocol, stream], expected)
    assert sent.headers["content-type"] == "application/json"
    assert reply.text == "The capital is Paris."


@pytest.mark.parametrize("preset", ["tgi", "mindie"])
def test_sampling_sends_a_temperature_and_do_sample(servers, preset):
    server = servers(preset)
    _backend(server.base_url, {"preset": preset}).generate(_ask(temperature=0.7))
    parameters = server.requests[-1].body["parameters"]
    assert (parameters["do_sample"], parameters["temperature"]) == (True, 0.7)


def test_tgi_reply_details_become_counts_and_finish_reason(servers):
    server = servers("tgi")
    plain = _backend(server.base_url, {"preset": "tgi"}).generate(_ask())
    assert (plain.prompt_tokens, plain.completion_tokens, plain.extra["finish_reason"]) == (None, 11, "eos_token")
    streamed = _backend(server.base_url, {"preset": "tgi-stream"}).generate(_ask())
    assert streamed.text == plain.text == ANSWER  # the special </s> token is not part of the text
    assert (streamed.prompt_tokens, streamed.completion_tokens, streamed.extra["finish_reason"]) == (6, 11, "eos_token")
    assert server.requests[-1].path == "/generate_stream"


def test_tgi_keeps_the_stop_string_and_we_cut_it(servers):
    server = servers("tgi")
    reply = _backend(server.base_url, {"preset": "tgi"}).generate(_ask(stop=(" is",)))
    assert (reply.text, reply.extra["finish_reason"]) == ("The capital", "stop_sequence")
    kept = _backend(server.base_url, {"preset": "tgi", "trim_stop": False}).generate(_ask(stop=(" is",)))
    assert kept.text == "The capital is"


def test_triton_and_mindie_get_no_stop_strings_so_they_are_applied_here(servers):
    for protocol in ("triton", "mindie"):
        server = servers(protocol)
        reply = _backend(server.base_url, {"preset": protocol}).generate(_ask(stop=(".",)))
        assert reply.text == "The capital is Paris"
        assert "stop" not in json.dumps(server.requests[-1].body)


def test_max_tokens_reaches_the_server(servers):
    for protocol in ("tgi", "triton", "mindie"):
        server = servers(protocol)
        reply = _backend(server.base_url, {"preset": protocol}).generate(_ask(max_tokens=3))
        assert reply.text == "The capital is"


def test_triton_model_name_is_quoted_into_the_path(servers):
    server = servers("triton")
    _backend(server.base_url, {"preset": "triton"}, model="llama 3/8b").generate(_ask())
    assert server.requests[-1].path == "/v2/models/llama%203%2F8b/generate"


# -- streaming ------------------------------------------------------------------------------------

def test_triton_stream_pieces_are_joined(servers):
    server = servers("triton")
    reply = _backend(server.base_url, {"preset": "triton", "stream": True}).generate(_ask())
    assert reply.text == ANSWER and reply.completion_tokens is None


def test_mindie_stream_takes_the_final_text_because_the_last_piece_is_null(servers):
    server = servers("mindie")
    reply = _backend(server.base_url, {"preset": "mindie", "stream": True}).generate(_ask())
    assert reply.text == ANSWER and reply.completion_tokens == 10 and reply.extra["finish_reason"] == "eos_token"
    joined = _backend(server.base_url, {"preset": "mindie", "stream": True, "stream_final_path": None}).generate(_ask())
    assert joined.text == ANSWER.removesuffix(" city.")  # what joining the pieces alone would give


def test_time_to_first_chunk_is_recorded_when_streaming(servers):
    server = servers("triton", chunk_delay_s=0.2)
    reply = _backend(server.base_url, {"preset": "triton", "stream": True}).generate(_ask(max_tokens=4))
    first = reply.extra["time_to_first_chunk_s"]
    assert 0 < first < 0.15 and reply.latency_s >= 0.6  # 4 chunks, 0.2 s apart
    assert "time_to_first_chunk_s" not in _backend(server.base_url, {"preset": "triton"}).generate(_ask()).extra


def test_time_to_first_chunk_counts_the_wait_for_the_server(servers):
    server = servers("tgi", faults=[Fault.delay(0.3)])
    reply = _backend(server.base_url, {"preset": "tgi-stream"}).generate(_ask())
    assert 0.3 <= reply.extra["time_to_first_chunk_s"] <= reply.latency_s


def test_done_marker_ends_a_custom_stream(servers):
    body = 'data: {"delta": "Par"}\n\ndata: {"delta": "is"}\n\ndata: [DONE]\n\ndata: {"delta": "!"}\n\n'
    server = servers("triton", faults=[Fault.http(200, body=body)])
    options = {"preset": "triton", "stream": True, "stream_path": "delta"}
    assert _backend(server.base_url, options).generate(_ask()).text == "Paris"


def test_events_ended_by_single_line_breaks_are_still_read(servers):
    body = 'data: {"text_output": "Pa"}\ndata: {"text_output": "ris"}\n'
    server = servers("triton", faults=[Fault.http(200, body=body)])
    assert _backend(server.base_url, {"preset": "triton", "stream": True}).generate(_ask()).text == "Paris"


# -- templates ------------------------------------------------------------------------------------

def test_placeholders_keep_their_json_type_and_text_is_formatted(servers):
    server = servers("tgi")
    body = {"inputs": "{prompt}", "parameters": {"max_new_tokens": "{max_tokens}"},
            "typed": {"n": "{max_tokens}", "t": "{temperature}", "stop": "{stop}", "sample": "{do_sample}",
                      "stream": "{stream}", "messages": "{messages}", "model": "{model}", "gone": "{sampling_temperature}",
                      "listed": ["{sampling_temperature}", "{max_tokens}"]},
            "text": "model={model} n={max_tokens} stop={stop} {{literal}}", "constant": 3}
    _backend(server.base_url, {"preset": "tgi", "body": body}).generate(_ask(stop=("\n", "Q:"), system="Be brief."))
    sent = server.requests[-1].body
    assert sent["inputs"] == f"Be brief.\n\n{QUESTION}"
    assert sent["typed"] == {
        "n": 16, "t": 0.0, "stop": ["\n", "Q:"], "sample": False, "stream": False, "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
        "listed": [None, 16]}  # a null entry of a mapping is left out; in a list it stays
    assert sent["text"] == 'model=m n=16 stop=["\\n", "Q:"] {literal}' and sent["constant"] == 3


def test_prompt_template_wraps_the_messages(servers):
    server = servers("tgi")
    template = "<|system|>{system}<|user|>{user}<|assistant|>"
    _backend(server.base_url, {"preset": "tgi", "prompt_template": template}).generate(_ask(system="Be brief."))
    assert server.requests[-1].body["inputs"] == f"<|system|>Be brief.<|user|>{QUESTION}<|assistant|>"


def test_extra_body_is_merged_into_the_preset_body(servers):
    server = servers("tgi")
    options = {"preset": "tgi", "extra_body": {"parameters": {"repetition_penalty": 1.0, "details": False}}}
    _backend(server.base_url, options).generate(_ask())
    parameters = server.requests[-1].body["parameters"]
    assert (parameters["repetition_penalty"], parameters["details"], parameters["max_new_tokens"]) == (1.0, False, 16)


def test_a_preset_value_is_replaced_whole_by_the_profile(servers):
    server = servers("triton")
    body = {"text_input": "{prompt}", "max_tokens": "{max_tokens}", "parameters": {"exclude_input_in_output": True}}
    _backend(server.base_url, {"preset": "triton", "body": body}).generate(_ask())
    assert server.requests[-1].body == {"text_input": QUESTION, "max_tokens": 16,
                                        "parameters": {"exclude_input_in_output": True}}


def test_a_fully_custom_profile_needs_no_preset(servers):
    server = servers("mindie")
    options = {"path": "/infer", "body": {"inputs": "{prompt}", "parameters": {"max_new_tokens": "{max_tokens}"}},
               "reply_path": "generated_text"}
    assert _backend(server.base_url + "/", options).generate(_ask()).text == ANSWER
    assert server.requests[-1].path == "/infer"


def test_reply_path_reads_into_lists(servers):
    body = json.dumps({"choices": [{"text": "first"}, {"text": "second"}]})
    server = servers("tgi", faults=[Fault.http(200, body=body)] * 2)
    assert _backend(server.base_url, {"preset": "tgi", "reply_path": "choices.1.text"}).generate(_ask()).text == "second"
    assert _backend(server.base_url, {"preset": "tgi", "reply_path": "choices.-1.text"}).generate(_ask()).text == "second"


@pytest.mark.parametrize(("options", "expected"), [
    ({"preset": "tgi", "body": {"inputs": "{promt}"}}, "options.body.inputs: unknown placeholder {promt} (expected one of"),
    ({"preset": "tgi", "extra_body": {"parameters": {"top_k": "{top_k}"}}}, "options.extra_body.parameters.top_k: unknown placeholder {top_k}"),
    ({"preset": "tgi", "body": {"inputs": "{prompt!r}"}}, "options.body.inputs: a placeholder is a bare name such as {prompt}, got '{prompt!r}'"),
    ({"preset": "tgi", "body": {"inputs": "{prompt"}}, "options.body.inputs: invalid template"),
    ({"preset": "tgi", "prompt_template": "{question}"}, "options.prompt_template: unknown placeholder {question}"),
    ({"preset": "tgi", "reply_pth": "x"}, "options.reply_pth: unknown key"),
    ({"preset": "vllm"}, "options.preset: unknown preset 'vllm' (expected one of tgi, tgi-stream, triton, mindie)"),
    ({"preset": "tgi", "stream": "yes"}, "options.stream: input should be a valid boolean (got 'yes')"),
    ({"preset": "tgi", "headers": {"X-Team": 5}}, "options.headers.X-Team: input should be a valid string (got 5)"),
    ({"preset": "tgi", "method": "GET"}, "options.method: input should be 'POST' or 'PUT' (got 'GET')"),
    ({"preset": "tgi", "reject_pattern": "(unclosed"}, "options.reject_pattern: invalid regular expression '(unclosed'"),
    ({"preset": "tgi", "reply_path": "details..x"}, "options.reply_path: expected a dotted path"),
    ({"preset": "tgi", "path": "/{model}/{version}"}, "options.path: unknown placeholder {version} (expected one of {model})"),
    ({"preset": "tgi", "headers": {"Authorization": "Bearer sk-123"}}, "options.headers.Authorization: a credential is never written in a profile"),
    ({"preset": "tgi", "headers": {"X-Api-Key": "k-1"}}, "options.headers.X-Api-Key: a credential is never written in a profile"),
    ({"reply_path": "x"}, "options.body: required: a request-body template, or a preset"),
    ({"body": {"q": "{prompt}"}}, "options.reply_path: required: the dotted path of the text in the reply"),
    ({"body": {"q": "{prompt}"}, "stream": True}, "options.stream_path: required with stream: true"),
])
def test_bad_options_are_one_line_config_errors_naming_the_key(options, expected):
    with pytest.raises(ConfigError) as info:
        _backend("http://127.0.0.1:9", options)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


@pytest.mark.parametrize(("url", "expected"), [
    (None, "base_url: backend http needs the server's address"),
    ("127.0.0.1:8080", "base_url: expected an http:// or https:// URL, got '127.0.0.1:8080'"),
])
def test_a_missing_or_bad_base_url_is_a_config_error(url, expected):
    with pytest.raises(ConfigError, match=f"^{expected}"):
        HTTPBackend(BackendSettings(backend="http", model="m", base_url=url, extra={"preset": "tgi"}))


def test_the_registry_name_builds_this_backend(servers):
    backend = create_backend(BackendSettings(backend="http", model="m", base_url=servers("tgi").base_url,
                                             extra={"preset": "tgi"}))
    assert isinstance(backend, HTTPBackend) and backend.generate(_ask()).text == ANSWER


# -- headers and secrets --------------------------------------------------------------------------

def test_header_values_read_environment_variables(servers, monkeypatch):
    monkeypatch.setenv("TGI_TOKEN", "tok-123456")
    server = servers("tgi", required_headers={"Authorization": "Bearer tok-123456", "X-Team": "eval"})
    options = {"preset": "tgi", "headers": {"Authorization": "Bearer ${TGI_TOKEN}", "X-Team": "eval"}}
    backend = _backend(server.base_url, options)
    assert backend.generate(_ask()).text == ANSWER
    assert "tok-123456" not in repr(backend.settings)  # the settings keep the reference, not the value


def test_api_key_env_is_a_bearer_header(servers, monkeypatch):
    monkeypatch.setenv("MINDIE_KEY", "mk-987654")
    server = servers("mindie", required_headers={"Authorization": "Bearer mk-987654"})
    assert _backend(server.base_url, {"preset": "mindie"}, api_key_env="MINDIE_KEY").generate(_ask()).text == ANSWER


def test_a_configured_authorization_header_wins_over_api_key_env(servers, monkeypatch):
    monkeypatch.setenv("MINDIE_KEY", "mk-987654")
    monkeypatch.setenv("OTHER", "other-1")
    server = servers("mindie", required_headers={"authorization": "Token other-1"})
    options = {"preset": "mindie", "headers": {"authorization": "Token ${OTHER}"}}
    assert _backend(server.base_url, options, api_key_env="MINDIE_KEY").generate(_ask()).text == ANSWER


def test_missing_variables_are_config_errors(monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="^options.headers.Authorization: environment variable NOPE_TOKEN is not set$"):
        _backend("http://127.0.0.1:9", {"preset": "tgi", "headers": {"Authorization": "Bearer ${NOPE_TOKEN}"}})
    with pytest.raises(ConfigError, match="^api_key_env: environment variable NOPE_TOKEN is not set$"):
        _backend("http://127.0.0.1:9", {"preset": "tgi"}, api_key_env="NOPE_TOKEN")


def test_rejected_credentials_are_fatal_and_never_echoed(servers, monkeypatch):
    monkeypatch.setenv("TGI_TOKEN", "tok-wrong-42")
    server = servers("tgi", required_headers={"Authorization": "Bearer tok-right"})  # echoes what it got
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, {"preset": "tgi"}, api_key_env="TGI_TOKEN").generate(_ask())
    assert _one_line_without(info.value, "tok-wrong-42") == (
        f"{server.base_url}/generate: the endpoint rejected the credentials (HTTP 401) for model 'm'")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(string.ascii_letters + string.digits + "-_.", min_size=6, max_size=40),
       padding=st.integers(min_value=0, max_value=300))
def test_an_echoed_secret_is_scrubbed_from_every_message(monkeypatch, secret, padding):
    monkeypatch.setenv("ECHO_TOKEN", secret)
    json_echo = json.dumps({"error": f"bad request\nfor token {secret}\n({secret})"})
    text_echo = "#" * padding + f"token {secret} refused"  # not JSON: shown cut short, scrubbed first
    faults = [Fault.http(400, body=json_echo), Fault.http(500, body=text_echo), Fault.http(200, body=text_echo)]
    with NativeServer("tgi", faults=faults) as server:
        backend = _backend(server.base_url, {"preset": "tgi", "headers": {"X-Token": "${ECHO_TOKEN}"}})
        for _ in faults:
            with pytest.raises(BackendError) as info:
                backend.generate(_ask())
            _one_line_without(info.value, secret, secret[:-1], secret[1:])
        backend.close()


# -- each error class -----------------------------------------------------------------------------

@pytest.mark.parametrize("status", [401, 403])
def test_forbidden_is_fatal(servers, status):
    server = servers("triton", faults=[Fault.http(status)])
    with pytest.raises(FatalBackendError, match=rf"rejected the credentials \(HTTP {status}\)"):
        _backend(server.base_url, {"preset": "triton"}).generate(_ask())


def test_a_wrong_path_is_fatal_and_names_the_url(servers):
    server = servers("tgi")
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, {"preset": "tgi", "path": "/v1/generate"}).generate(_ask())
    assert str(info.value).startswith(f"{server.base_url}/v1/generate: HTTP 404 for model 'm': expected the endpoint")


def test_an_unknown_triton_model_is_fatal(servers):
    server = servers("triton", known_models={"llama"})
    with pytest.raises(FatalBackendError) as info:
        _backend(server.base_url, {"preset": "triton"}, model="lama").generate(_ask())
    assert "HTTP 400" in str(info.value) and "Request for unknown model: 'lama' is not found" in str(info.value)


@pytest.mark.parametrize(("status", "retry_after", "expected"), [
    (429, "3", 3.0), (503, "0.5", 0.5), (500, None, None), (502, "soon", None), (408, None, None),
])
def test_overload_and_outages_are_transient_with_retry_after(servers, status, retry_after, expected):
    server = servers("mindie", faults=[Fault.http(status, retry_after=retry_after)])
    with pytest.raises(TransientBackendError) as info:
        _backend(server.base_url, {"preset": "mindie"}).generate(_ask())
    assert info.value.retry_after_s == expected
    assert _one_line_without(info.value) == (
        f"{server.base_url}/infer: HTTP {status} for model 'm': injected failure (HTTP {status})")


def test_retry_after_may_be_an_http_date(servers):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    server = servers("tgi", faults=[Fault.http(503, retry_after=when)])
    with pytest.raises(TransientBackendError) as info:
        _backend(server.base_url, {"preset": "tgi"}).generate(_ask())
    assert info.value.retry_after_s is not None and 25 < info.value.retry_after_s <= 30


def test_the_backend_never_retries_itself(servers):
    server = servers("tgi", faults=[Fault.http(503)])
    with pytest.raises(TransientBackendError):
        _backend(server.base_url, {"preset": "tgi"}, retries=5).generate(_ask())
    assert len(server.requests) == 1


def test_other_client_errors_are_errors_with_the_server_message(servers):
    server = servers("triton", faults=[Fault.http(400, body=json.dumps({"error": "max_tokens must be positive"}))])
    with pytest.raises(BackendError) as info:
        _backend(server.base_url, {"preset": "triton"}).generate(_ask())
    assert type(info.value) is BackendError
    assert str(info.value) == f"{server.base_url}/v2/models/m/generate: HTTP 400 for model 'm': max_tokens must be positive"


def test_a_plain_text_error_body_is_shown(servers):
    server = servers("tgi")
    with pytest.raises(BackendError) as info:
        _backend(server.base_url, {"preset": "tgi", "body": {"inputs": "{max_tokens}"}}).generate(_ask())
    assert type(info.value) is BackendError
    assert "HTTP 422 for model 'm': 'Failed to deserialize the JSON body" in str(info.value)


def test_tgi_refuses_temperature_zero_and_the_preset_never_sends_it(servers):
    server = servers("tgi")
    with pytest.raises(BackendError, match="`temperature` must be strictly positive"):
        _backend(server.base_url, {"preset": "tgi", "extra_body": {"parameters": {"temperature": 0}}}).generate(_ask())
    assert _backend(server.base_url, {"preset": "tgi"}).generate(_ask()).text == ANSWER


@pytest.mark.parametrize(("preset", "stream", "expected"), [
    ("tgi", False, "prompt refused (HTTP 422) for model 'm': Input validation error: `inputs` must have less than 3 tokens. Given: 6"),
    ("tgi", True, "prompt refused (error in the reply) for model 'm': Input validation error: `inputs` must have less than 3 tokens"),
    ("triton", False, "prompt refused (HTTP 400) for model 'm': Input prompt (6 tokens) is too long and exceeds limit of 3"),
    ("triton", True, "prompt refused (HTTP 400) for model 'm': Input prompt (6 tokens) is too long"),
    ("mindie", False, "prompt refused (HTTP 400) for model 'm': Input length (6) exceeds maxInputTokenLen (3)"),
    ("mindie", True, "prompt refused (HTTP 400) for model 'm': Input length (6) exceeds maxInputTokenLen (3)"),
])
def test_a_prompt_too_long_is_a_rejected_sample(native_server_factory, preset, stream, expected):
    server = native_server_factory(preset, {QUESTION: ANSWER}, max_input_tokens=3)
    with pytest.raises(SampleRejected) as info:
        _backend(server.base_url, {"preset": preset, "stream": stream}).generate(_ask())
    assert expected in _one_line_without(info.value) and info.value.reason == str(info.value)


def test_an_error_event_inside_a_stream_is_transient(servers):
    server = servers("triton", faults=[Fault.stream_error("GPU fell over", after=2)])
    with pytest.raises(TransientBackendError, match="error in the reply for model 'm': GPU fell over$"):
        _backend(server.base_url, {"preset": "triton", "stream": True}).generate(_ask())


def test_an_error_named_event_is_an_error(servers):
    body = 'data: {"text_output": "Pa"}\n\n: keep-alive\n\nevent: error\ndata: {"message": "overloaded"}\n\n'
    server = servers("triton", faults=[Fault.http(200, body=body)])
    with pytest.raises(TransientBackendError, match="error in the reply for model 'm': overloaded$"):
        _backend(server.base_url, {"preset": "triton", "stream": True}).generate(_ask())


def test_an_error_object_in_a_200_reply_is_transient(servers):
    server = servers("triton", faults=[Fault.http(200, body=json.dumps({"error": {"message": "busy"}}))])
    with pytest.raises(TransientBackendError, match="error in the reply for model 'm': busy$"):
        _backend(server.base_url, {"preset": "triton"}).generate(_ask())


def test_a_hang_past_the_timeout_is_transient(servers):
    server = servers("tgi", faults=[Fault.delay(3)])
    started = time.monotonic()
    with pytest.raises(TransientBackendError, match=r"/generate: no reply within 0\.3 s for model 'm'$"):
        _backend(server.base_url, {"preset": "tgi"}, timeout_s=0.3).generate(_ask())
    assert time.monotonic() - started < 2


def test_a_stream_trickling_past_the_timeout_is_abandoned(servers):
    server = servers("triton", chunk_delay_s=0.2)
    started = time.monotonic()
    with pytest.raises(TransientBackendError, match=r"no reply within 0\.5 s"):
        _backend(server.base_url, {"preset": "triton", "stream": True}, timeout_s=0.5).generate(_ask())
    assert time.monotonic() - started < 1.2  # not the 2.2 s the whole stream would take


def test_a_refused_connection_is_transient():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientBackendError, match="connection failed for model 'm': ConnectError"):
        _backend(f"http://127.0.0.1:{port}", {"preset": "tgi"}).generate(_ask())


@pytest.mark.parametrize(("preset", "fault"), [
    ("tgi", Fault.drop()), ("tgi", Fault.truncate()), ("tgi-stream", Fault.truncate(after=3)),
    ("triton", Fault.truncate()), ("mindie", Fault.truncate()),
])
def test_dropped_connections_and_cut_bodies_are_transient(native_server_factory, preset, fault):
    server = native_server_factory("tgi" if preset.startswith("tgi") else preset, {QUESTION: ANSWER}, faults=[fault])
    with pytest.raises(TransientBackendError, match="connection failed for model 'm': RemoteProtocolError"):
        _backend(server.base_url, {"preset": preset}).generate(_ask())


@pytest.mark.parametrize("protocol", ["triton", "mindie"])
def test_a_stream_cut_short_is_transient(native_server_factory, protocol):
    server = native_server_factory(protocol, {QUESTION: ANSWER}, faults=[Fault.truncate(after=2)])
    with pytest.raises(TransientBackendError, match="RemoteProtocolError"):
        _backend(server.base_url, {"preset": protocol, "stream": True}).generate(_ask())


@pytest.mark.parametrize(("options", "body", "expected"), [
    ({"preset": "tgi"}, "not json", "malformed reply for model 'm': expected a JSON body, got 'not json'"),
    ({"preset": "tgi"}, "", "malformed reply for model 'm': expected a JSON body, got an empty body"),
    ({"preset": "tgi"}, '{"generated_text": "Par', "expected a JSON body, got '{\"generated_text\": \"Par'"),
    ({"preset": "tgi"}, '{"text": "x", "n": 1}', "expected a string at 'generated_text', got no such key (top-level keys: text, n)"),
    ({"preset": "tgi"}, '{"generated_text": null}', "expected a string at 'generated_text', got null"),
    ({"preset": "tgi"}, '["generated_text"]', "expected a string at 'generated_text', got no such key in an array"),
    ({"preset": "triton", "stream": True}, '{"text_output": "x"}', "expected server-sent events with data chunks, got none (application/json)"),
    ({"preset": "triton", "stream": True}, 'data: {"text": "x"}\n\n', "expected a string at 'text_output' in the streamed chunks"),
    ({"preset": "triton", "stream": True}, 'data: {"text_output": "x"\n\n', "expected JSON in every server-sent event"),
    ({"preset": "tgi-stream"}, 'data: {"token": {"text": "x", "special": false}}\n\n', "the stream was cut short: no final chunk with a string at 'generated_text'"),
    ({"preset": "mindie", "stream": True}, 'data: {"token": {"text": "x"}, "generated_text": 5}\n\n', "expected a string at 'generated_text' in the final chunk, got a number"),
])
def test_malformed_replies_are_transient(servers, options, body, expected):
    protocol = options["preset"].removesuffix("-stream")
    server = servers(protocol, faults=[Fault.http(200, body=body)])
    with pytest.raises(TransientBackendError) as info:
        _backend(server.base_url, options).generate(_ask())
    assert expected in _one_line_without(info.value) and str(info.value).startswith(server.base_url)


# -- the client -----------------------------------------------------------------------------------

def test_one_backend_serves_many_threads(native_server_factory):
    questions = {f"q{i}": f"a{i}" for i in range(16)}
    server = native_server_factory("triton", questions, faults=[Fault.delay(0.05)] * 16)
    backend = _backend(server.base_url, {"preset": "triton"})
    def ask(i: int) -> tuple[int, str]:
        return i, backend.generate(_ask(f"q{i}")).text

    with ThreadPoolExecutor(16) as pool:  # 16 requests at once through one backend
        replies = dict(pool.map(ask, range(16)))
    assert replies == {i: f"a{i}" for i in range(16)} and len(server.requests) == 16


def test_connections_are_reused(servers):
    server = servers("tgi")
    backend = _backend(server.base_url, {"preset": "tgi"})
    for _ in range(3):
        backend.generate(_ask())
    pool = backend._client._transport._pool  # the one pooled connection served all three
    ports = {id(connection) for connection in pool.connections}
    assert len(ports) == 1 and len(server.requests) == 3


def test_close_releases_the_client(servers):
    backend = _backend(servers("tgi").base_url, {"preset": "tgi"})
    assert backend.generate(_ask()).text == ANSWER
    backend.close()
    with pytest.raises(BackendError, match="RuntimeError"):
        backend.generate(_ask())
