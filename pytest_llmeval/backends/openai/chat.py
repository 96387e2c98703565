"""OpenAI-compatible chat endpoints (OpenAI, GLM, vLLM, LMDeploy, TGI, llama.cpp server, ...).
The SDK's own retries are off: the engine retries, so backoff, Retry-After, the shared rate limit
and the retry counts are the same for every backend.

Which path a request takes, and why (README, "Which path a request takes"):
- a chat completion that is not streamed, the one request of nearly every sample, goes straight
  onto the connection pool (``BoundedTransport.post``) as raw JSON, read with ``json.loads``
  without the SDK's pydantic models: the SDK costs about 1 ms of client CPU per request, which at
  a fast server is most of what a sample costs (benchmarks/RESULTS.md, issue 15);
- streamed replies, ``/completions`` (``mode: ll``), ``GET /models`` (``model: auto``), a reply
  that redirects (the SDK follows it), and any run whose environment configures the SDK
  (``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, ``OPENAI_CUSTOM_HEADERS``) go through the SDK, over
  the same pool. The SDK is imported only then.
Both paths read replies and failures into the same results and the same lines: the raw path
reads a status error as the SDK does (``_StatusError``) and a body in the shapes the SDK's models
accept (``_reply``).

The SDK's exceptions are mapped into ours in one place, ``_map_error``:

    openai.OpenAIError
    ├── APIStatusError 401, 403       -> FatalBackendError  (the key is rejected: stop the run)
    ├── APIStatusError 404            -> FatalBackendError  (unknown model, or no such endpoint:
    │                                    the line names the URL, and a base_url that answers)
    ├── APIStatusError 429, 5xx       -> TransientBackendError (with the Retry-After header)
    ├── APIStatusError other 4xx      -> BackendError       (this request was refused)
    ├── APITimeoutError               -> TransientBackendError
    ├── APIConnectionError            -> TransientBackendError (refused, reset, dropped)
    └── anything else                 -> BackendError
    httpx2 timeouts and transport errors while a stream is read -> TransientBackendError
    ValueError (a body that is not JSON)  -> TransientBackendError
    a 200 without choices[0].message      -> TransientBackendError (``_reply``; null content is "")
    a stream without finish_reason or [DONE] -> TransientBackendError (it was cut short)
    finish_reason "content_filter"        -> SampleRejected (a refusal: a miss, with the reason)

Each attempt is bounded in all by ``attempt_timeout()`` (``BoundedTransport``): a server that
trickles bytes, or a chunked body that never ends, times out like one that never answers.

Every message is one line and never contains the API key, even when the server echoes it.
The SDK is imported when a request first needs it, never when this module is imported.

``mode: ll`` is scored through ``/completions`` with echoed prompt log-probabilities: the logic,
and which servers can do it, is in ``logprobs.py``; this module only sends its requests.

With ``settings.stream`` (``--llm-stream``) chat replies are streamed and timed by a
``ChunkClock`` from the moment the request's headers go out (a trace hook on the SDK's transport),
for the serving-performance metrics (``results.latency``). The stream is read as server-sent
events (``http/sse.py``, shared with the http backend) rather than through the SDK's iterator,
which hides whether ``[DONE]`` came.

``model: auto`` (the built-in local-server profiles) sends the one model the server lists at
``GET /models``, asked once, on the first request: a local server serves its model under a name
(often a file path) that a profile cannot know. No model, or several, stops the run with one line
that lists them.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import BackendError, ConfigError, FatalBackendError, TransientBackendError, reason
from ..base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply
from ..http.sse import iter_events, json_chunks
from ..stream_clock import ChunkClock
from .logprobs import EchoScorer, EndpointRefused
from .response import refuse_finish

if TYPE_CHECKING:
    import openai

    from ..transport import RawReply

__all__ = [
    "AUTO_MODEL", "PLACEHOLDER_KEY", "OpenAIChatBackend", "read_api_key", "retry_after_from_headers",
    "retry_after_seconds",
]

PLACEHOLDER_KEY = "EMPTY"  # sent when no api_key_env is configured: local servers need no key
AUTO_MODEL = "auto"  # settings.model meaning "the one model the server lists"
_REFUSALS = frozenset({400, 404, 405, 422, 501})  # what /completions answers when it cannot do echo
_MAX_LINE = 400
_DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the SDK's, when neither base_url nor OPENAI_BASE_URL is set
_SDK_ENVIRONMENT = ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS")  # headers only the SDK adds
_CLOSED = "Cannot send a request, as the client has been closed."  # httpx's words, as the SDK path says them


def read_api_key(api_key_env: str | None) -> str:
    """The key from the named environment variable, or the placeholder when none is named."""
    if api_key_env is None:
        return PLACEHOLDER_KEY
    key = os.environ.get(api_key_env)
    if not key:
        raise ConfigError(f"environment variable {api_key_env} is not set", key="api_key_env")
    return key


def _extra_body(settings: BackendSettings) -> dict[str, Any]:
    """``extra.extra_body`` of the profile: server-specific fields merged into every request body
    (``{"repeat_penalty": 1.0}`` for llama_cpp.server, ``{"top_k": 1}`` for vLLM, ...)."""
    body = settings.extra.get("extra_body", {})
    if not isinstance(body, dict):
        raise ConfigError(f"expected a mapping of request fields, got {type(body).__name__}", key="extra_body")
    return dict(body)


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise ConfigError("backend openai needs the openai SDK: pip install openai") from None
    return openai


class OpenAIChatBackend(Backend):
    """Chat completions (streamed with ``settings.stream``) from ``settings.base_url`` for ``settings.model``, and
    log-likelihoods from its ``/completions`` endpoint where the server returns them.

    ``settings.extra["extra_body"]`` (a mapping) is merged into every request body.
    """

    scores_empty_context = False  # a text prompt cannot name the BOS token lm-eval conditions on

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import httpx2

        from ..transport import BoundedTransport

        self._key = read_api_key(settings.api_key_env)
        self._extra_body = _extra_body(settings)
        self._transport = BoundedTransport(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
                                           trace=_trace)  # the SDK's DEFAULT_CONNECTION_LIMITS
        self._base = _base_url(settings.base_url or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL)
        self._where = str(self._base).rstrip("/")
        self._chat_url, self._chat_headers = _raw_route(self._base, "chat/completions", self._key)
        self._raw = not any(os.environ.get(name) for name in _SDK_ENVIRONMENT)
        self._sdk: tuple[Any, openai.OpenAI] | None = None  # (the module, the client), built on first need
        self._sdk_lock = threading.Lock()
        self._closed = False
        self._model: str | None = None if settings.model == AUTO_MODEL else settings.model
        self._model_lock = threading.Lock()
        self._scorer = EchoScorer(self._post_completions, self._error)
        self._stream_usage = True  # ask streams for usage until the server refuses stream_options

    @property
    def _openai(self) -> Any:
        return self._built_sdk()[0]

    @property
    def _client(self) -> openai.OpenAI:
        return self._built_sdk()[1]

    def _built_sdk(self) -> tuple[Any, openai.OpenAI]:
        """The SDK and its client over this backend's pool, imported and built on first need."""
        with self._sdk_lock:
            if self._sdk is None:
                module = _import_openai()
                client = module.OpenAI(base_url=str(self._base), api_key=self._key, timeout=self.settings.timeout_s,
                                       max_retries=0, http_client=module.DefaultHttpxClient(transport=self._transport))
                if self._closed:
                    client.close()
                self._sdk = (module, client)
            return self._sdk

    def generate(self, request: GenerateRequest) -> Reply:
        if self.settings.stream:
            return self._generate_streamed(request)
        started = time.perf_counter()
        params = self._params(request)
        if not self._raw:
            return self._generate_sdk(params, started)
        try:
            raw = self._post_raw(params)
        except Exception as exc:  # noqa: BLE001 - every failure becomes ours, in _map_error
            raise self._map_error(exc) from None
        if 300 <= raw.status < 400:  # a redirect: the SDK follows it, as it always has (a 3xx did nothing)
            return self._generate_sdk(params, started)
        try:
            body = _decoded(_raw_body, raw)
        except Exception as exc:  # noqa: BLE001 - a body that is not JSON, or one that does not decode
            raise self._map_error(exc) from None
        return self._reply(body, time.perf_counter() - started)

    def _generate_sdk(self, params: dict[str, Any], started: float) -> Reply:
        try:
            completion = self._client.chat.completions.with_raw_response.create(**params, timeout=self.attempt_timeout())
            body = _sdk_body(completion.http_response)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes ours, in _map_error
            raise self._map_error(exc) from None
        return self._reply(body, time.perf_counter() - started)

    def _post_raw(self, params: dict[str, Any]) -> RawReply:
        """One chat completion straight on the pool; an HTTP error status raises ``_StatusError``,
        read as the SDK reads one, and transport failures are wrapped as the SDK wraps them."""
        import httpx2

        if self._closed:
            raise RuntimeError(_CLOSED)
        body = dict(params)
        extra = body.pop("extra_body", None)
        content = json.dumps({**body, **extra} if extra else body).encode()
        try:
            raw = self._transport.post(self._chat_url, self._chat_headers, content, self.attempt_timeout())
        except httpx2.TimeoutException:
            raise
        except (httpx2.RequestError, ssl.SSLError) as exc:
            raise _ConnectionFailed(exc) from exc
        if raw.status >= 400:
            raise _decoded(_StatusError, raw, self._chat_request())
        return raw

    def _chat_request(self) -> Any:
        """The request as httpx describes it, for a 404's line (``_not_found``)."""
        import httpx2

        url = self._chat_url
        return httpx2.Request("POST", httpx2.URL(scheme=url.scheme.decode(), host=url.host.decode(), port=url.port,
                                                 raw_path=url.target))

    def _generate_streamed(self, request: GenerateRequest) -> Reply:
        """``--llm-stream``: the reply as server-sent chunks, timed by a ``ChunkClock``. Usage is
        asked for with ``stream_options.include_usage``; a server that refuses that option (HTTP
        400/422) is asked again without it, once for the whole run, and its replies then carry no
        usage (output tokens are counted as content chunks downstream)."""
        params = self._params(request) | {"stream": True}
        if self._stream_usage:
            params["stream_options"] = {"include_usage": True}
        clock = ChunkClock()
        _SENT.at = None
        try:
            create = self._client.chat.completions.with_streaming_response.create
            with create(**params, timeout=self.attempt_timeout()) as response:
                reply = self._read_stream(response.iter_lines(), clock, response.headers.get("content-type"))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes ours, in _map_error
            status = getattr(exc, "status_code", None)
            if self._stream_usage and isinstance(exc, self._openai.APIStatusError) and status in (400, 422):
                self._stream_usage = False
                return self._generate_streamed(request)
            raise self._map_error(exc) from None
        sent = _SENT.at or clock.start  # the request's headers going out: connecting does not count
        reply.latency_s = time.perf_counter() - sent
        return clock.stamp(reply, sent)

    def _read_stream(self, lines: Iterable[str], clock: ChunkClock, content_type: str | None) -> Reply:
        """The streamed chunks, read as the protocol defines them. The reply is complete only when
        the server says so: a choice with a ``finish_reason``, or ``data: [DONE]``. A stream that
        ends without either was cut short, however cleanly its connection closed, and is retried."""
        pieces: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        done = seen = False
        for event in iter_events(lines):
            if event.data.strip() == "[DONE]":
                done = True
                break
            for chunk in self._chunks(event.data):
                seen = True
                found = chunk.get("usage")
                usage = found if isinstance(found, dict) else usage
                choice = _first_choice(chunk)
                delta = choice.get("delta")
                piece = delta.get("content") if isinstance(delta, dict) else None
                clock.content(piece)
                if isinstance(piece, str):
                    pieces.append(piece)
                finish = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else finish
        if not seen:
            raise self._error(f"expected server-sent events with data chunks, got none ({content_type or 'no content-type'})",
                              transient=True)
        if not done and finish is None:
            raise self._error("the stream ended before the reply was complete (no finish_reason and no [DONE])",
                              transient=True)
        refuse_finish(finish)
        return Reply(text="".join(pieces), prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
                     completion_tokens=_int_or_none(usage.get("completion_tokens")),
                     extra={"finish_reason": finish} if finish else {})

    def _chunks(self, data: str) -> list[dict[str, Any]]:
        """The JSON chunks of one event; an error object in the stream (vLLM sends one when the
        engine fails mid-reply) or a chunk that is not JSON is a transient failure."""
        try:
            chunks = json_chunks(data)
        except ValueError:
            raise self._error(f"malformed stream: expected JSON in every event, got {data[:80]!r}", transient=True) from None
        for chunk in chunks:
            if not isinstance(chunk, dict):
                raise self._error(f"malformed stream: expected JSON objects, got {data[:80]!r}", transient=True)
            if chunk.get("error") is not None and not chunk.get("choices"):
                error = chunk["error"]
                message = error.get("message") if isinstance(error, dict) else error
                raise self._error(f"error in the stream: {message}", transient=True)
        return chunks

    def loglikelihood(self, request: LoglikelihoodRequest) -> Reply:
        """Summed log-probabilities of each continuation, from ``/completions`` with echo."""
        return self._scorer.score(request)

    def model_name(self) -> str:
        """The model sent with every request: ``settings.model``, or for ``auto`` the server's one."""
        with self._model_lock:
            if self._model is None:
                self._model = self._served_model()
            return self._model

    def close(self) -> None:
        with self._sdk_lock:
            self._closed = True
            if self._sdk is not None:
                self._sdk[1].close()
        self._transport.close()

    def _served_model(self) -> str:
        try:
            listed = json.loads(self._client.models.with_raw_response.list().text)
        except Exception as exc:  # noqa: BLE001 - mapped below, like a chat request's
            if isinstance(exc, self._openai.APIStatusError) and exc.status_code == 404:
                raise self._error("GET /models answered HTTP 404; name the served model in the profile (model:)",
                                  fatal=True) from None
            raise self._map_error(exc) from None
        data = listed.get("data") if isinstance(listed, dict) else None
        models = data if isinstance(data, list) else []
        ids: list[str] = [m["id"] for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]
        if len(ids) != 1:
            served = f"{len(ids)} models ({', '.join(ids)})" if ids else "no model"
            raise self._error(f"model: auto, but GET /models lists {served}; name one in the profile (model:)",
                              fatal=True)
        return ids[0]

    def _post_completions(self, body: dict[str, Any]) -> Any:
        """One ``/completions`` request; its JSON. 400/404/405/422/501 raise ``EndpointRefused``."""
        extra = {"extra_body": self._extra_body} if self._extra_body else {}
        model = self.model_name()
        create: Any = self._client.completions.with_raw_response.create  # the body's keys are its parameters
        try:
            return json.loads(create(model=model, **body, **extra).text)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes ours
            if isinstance(exc, self._openai.APIStatusError) and exc.status_code in _REFUSALS:
                raise EndpointRefused(exc.status_code, _scrub(_server_message(exc), self._key)) from None
            raise self._map_error(exc) from None

    def _params(self, request: GenerateRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model_name(), "messages": [dict(m) for m in request.messages],
            "max_tokens": request.max_tokens, "temperature": request.temperature}
        if request.stop:
            params["stop"] = list(request.stop)
        if request.seed is not None:  # one of several attempts (``repeats``): each its own sample
            params["seed"] = request.seed
        if self._extra_body:
            params["extra_body"] = self._extra_body
        return params

    def _reply(self, completion: Any, latency_s: float) -> Reply:
        """The reply in a chat completion body, parsed JSON (or the text of a body that is not
        JSON), checked as the SDK's models read it: ``choices`` a non-empty list whose first item
        has a ``message`` object, its ``content`` a string or null."""
        model = self._model or self.settings.model
        if isinstance(completion, str):  # a body that is not JSON (an HTML page), as the SDK hands it back
            raise self._error(f"malformed reply for model {model!r}: expected a JSON chat completion, got "
                              f"{completion[:80]!r}", transient=True)
        choices = completion.get("choices") if isinstance(completion, dict) else None
        if not isinstance(choices, list) or not choices:
            raise self._error(f"malformed reply for model {model!r}: no choices", transient=True)
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(content, (str, type(None))):
            raise self._error(f"malformed reply for model {model!r}: no choices[0].message", transient=True)
        usage = completion.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        finish = choice.get("finish_reason")
        refuse_finish(finish)
        return Reply(text=content or "", latency_s=latency_s,
                     prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
                     completion_tokens=_int_or_none(usage.get("completion_tokens")),
                     extra={"finish_reason": finish} if isinstance(finish, str) else {})

    def _map_error(self, exc: Exception) -> BackendError:
        """The one place where the SDK's (and, while a stream is read, httpx's) exceptions become ours."""
        import httpx2

        oa, model = self._sdk[0] if self._sdk else None, self._model or self.settings.model
        if isinstance(exc, BackendError):  # ours already: a refusal, or a stream cut short
            return exc
        if isinstance(exc, _StatusError) or (oa is not None and isinstance(exc, oa.APIStatusError)):
            status = exc.status_code
            if status in (401, 403):
                return self._error(f"the endpoint rejected the API key (HTTP {status}) for model {model!r}", fatal=True)
            if status == 404:
                return self._error(self._not_found(exc, model), fatal=True)
            detail = _server_message(exc)
            if status == 429 or status >= 500:
                return self._error(f"HTTP {status} for model {model!r}: {detail}", transient=True,
                                   retry_after_s=retry_after_from_headers(exc.response.headers), status=status)
            return self._error(f"HTTP {status} for model {model!r}: {detail}")
        timeouts = (httpx2.TimeoutException,) if oa is None else (oa.APITimeoutError, httpx2.TimeoutException)
        if isinstance(exc, timeouts):
            return self._error(f"no reply within {self.attempt_timeout():g} s for model {model!r}",
                               transient=True)
        failures = (_ConnectionFailed, httpx2.TransportError, httpx2.DecodingError)
        if isinstance(exc, failures) or (oa is not None and isinstance(exc, oa.APIConnectionError)):
            cause = exc.__cause__ or exc
            return self._error(f"connection failed: {reason(cause)}", transient=True)
        if isinstance(exc, ValueError):  # a body that is not JSON
            return self._error(f"malformed reply for model {model!r}: {reason(exc)}", transient=True)
        return self._error(f"model {model!r}: {reason(exc)}")

    def _not_found(self, exc: Any, model: str) -> str:
        """A 404 names the URL asked. A server that does not know the model says so in its body;
        any other 404 is a wrong path, and when the server answers under a likelier base_url (the
        ``/v1`` left out, or the whole endpoint pasted in) the line says which."""
        request = getattr(getattr(exc, "response", None), "request", None)
        url = f"{request.method} {request.url}" if request is not None else self._where
        detail = _server_message(exc)
        if "model" in detail.lower():
            return f"model {model!r} not found (HTTP 404 for {url}): {detail}"
        return f"HTTP 404 for {url}: no such endpoint{self._better_base_url()}"

    def _better_base_url(self) -> str:
        base = self._where
        candidates = [base.removesuffix(suffix) for suffix in ("/chat/completions", "/completions") if base.endswith(suffix)]
        candidates += [] if base.endswith("/v1") else [f"{base}/v1"]
        for candidate in candidates:
            if _answers(f"{candidate}/models", self._key, min(5.0, self.settings.timeout_s)):
                return f"; {candidate}/models answers: set base_url to {candidate}"
        return "; check base_url (it should end where /chat/completions begins, often /v1)"

    def _error(self, message: str, *, fatal: bool = False, transient: bool = False,
               retry_after_s: float | None = None, status: int | None = None) -> BackendError:
        line = _scrub(f"{self._where}: {message}", self._key)
        line = line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."
        if fatal:
            return FatalBackendError(line)
        return TransientBackendError(line, retry_after_s=retry_after_s, status=status) if transient else BackendError(line)


_SENT = threading.local()  # per thread: when the current request's headers started going out


def _trace(name: str, info: dict[str, Any]) -> None:
    if getattr(_SENT, "at", None) is None and name.endswith("send_request_headers.started"):
        _SENT.at = time.perf_counter()


def _base_url(base_url: str) -> Any:
    """``base_url`` as the SDK holds it: an ``httpx2.URL`` whose path ends in a slash."""
    import httpx2

    url = httpx2.URL(base_url)
    path, separator, query = url.raw_path.partition(b"?")
    return url if path.endswith(b"/") else url.copy_with(raw_path=path + b"/" + separator + query)


def _raw_route(base: Any, path: str, key: str) -> tuple[Any, list[tuple[bytes, bytes]]]:
    """The httpcore URL of ``path`` under ``base`` (joined as the SDK joins them) and the headers
    the raw path sends: the key, JSON both ways, and the encodings httpx would accept."""
    import httpcore2

    url = base.copy_with(raw_path=base.raw_path + path.encode())
    headers = [(b"Host", url.netloc), (b"Authorization", f"Bearer {key}".encode()), (b"Accept", b"application/json"),
               (b"Content-Type", b"application/json"), (b"Accept-Encoding", b"gzip, deflate"),
               (b"User-Agent", b"pytest-llmeval")]
    return httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path), headers


class _StatusError(Exception):
    """An HTTP error status on the raw path, read as the SDK reads one (``APIStatusError``):
    ``body`` the JSON's ``error`` object (else the JSON, else the text), ``message`` "Error code:
    N", with " - message" when the body names one; ``response`` an httpx2 response."""

    def __init__(self, raw: RawReply, request: Any) -> None:
        import httpx2

        self.response = httpx2.Response(raw.status, headers=raw.headers, content=raw.body, request=request)
        self.status_code = raw.status
        text = self.response.text.strip()
        body: Any = text
        self.message = f"Error code: {raw.status}"
        try:
            body = json.loads(text)
        except Exception:  # noqa: BLE001, S110 - a body that is not JSON stays text, as in the SDK
            pass
        else:
            error = body.get("error", body) if isinstance(body, dict) else None
            said = error.get("message") if isinstance(error, dict) else None
            if isinstance(said, str) and said:
                self.message += f" - {said}"
        self.body = body.get("error", body) if isinstance(body, dict) else body
        super().__init__(self.message)


class _ConnectionFailed(Exception):
    """A transport failure on the raw path, wrapped as the SDK wraps one (``APIConnectionError``
    from the httpx error), so its line names the same cause."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.__cause__ = cause


def _decoded(read: Any, *args: Any) -> Any:
    """``read(*args)``, where a compressed body that does not decode (httpx's ``DecodingError``)
    is a transport failure, wrapped as the SDK wraps it."""
    import httpx2

    try:
        return read(*args)
    except httpx2.DecodingError as exc:
        raise _ConnectionFailed(exc) from exc


def _raw_body(raw: RawReply) -> Any:
    """A 2xx body as the SDK reads it: JSON when the content type says so (a body that is not
    JSON then raises ``ValueError``); otherwise JSON if it parses, else its text."""
    encoding = raw.header(b"content-encoding")
    if encoding is not None and encoding.strip().lower() != b"identity":
        import httpx2  # a compressed body: httpx decodes it, as the SDK's client would

        return _sdk_body(httpx2.Response(raw.status, headers=raw.headers, content=raw.body))
    content_type = (raw.header(b"content-type") or b"*").decode("latin-1").split(";")[0]
    if content_type.endswith("json"):
        return json.loads(raw.body)
    try:
        return json.loads(raw.body)
    except ValueError:
        import httpx2  # the text as httpx decodes it (the charset the server names)

        return httpx2.Response(raw.status, headers=raw.headers, content=raw.body).text


def _sdk_body(response: Any) -> Any:
    """The same reading of an ``httpx2.Response`` (the SDK path's raw response, a decoded body)."""
    content_type = response.headers.get("content-type", "*").split(";")[0]
    if content_type.endswith("json"):
        return response.json()
    try:
        return response.json()
    except ValueError:
        return response.text


def _answers(url: str, key: str, timeout_s: float) -> bool:
    """Whether ``url`` exists on the server: any answer but a 404 (a 401 exists too), or False."""
    import httpx2

    try:
        response = httpx2.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s)
    except httpx2.HTTPError:
        return False
    return response.status_code in (200, 401, 403)


def _first_choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def retry_after_from_headers(headers: Any) -> float | None:
    """The server's wait hint: ``retry-after-ms`` (OpenAI's, precise) or ``retry-after``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds to wait; None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import datetime as dt

    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _scrub(text: str, key: str) -> str:
    """One line, without the key."""
    if key and key != PLACEHOLDER_KEY:
        text = text.replace(key, "***")
    return " ".join(text.split())


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) and message else str(getattr(exc, "message", exc))


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
