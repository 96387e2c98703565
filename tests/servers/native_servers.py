"""Real HTTP servers on 127.0.0.1 speaking the native generation protocols of TGI, Triton and MindIE.

``NativeServer(protocol, replies)`` serves one protocol as its public documents describe it:

- ``tgi`` (TGI's OpenAPI document and router): ``POST /generate`` -> ``{"generated_text",
  "details"}``; ``POST /generate_stream`` -> server-sent events after a keep-alive comment, one
  ``StreamResponse`` per token (``token`` {id, text, logprob, special}; ``generated_text`` and
  ``details`` null until the last event, which carries the whole text and ``details`` with
  ``input_length``; ending on EOS, that last event is the special ``</s>`` token). Validation as
  TGI's router does it: a temperature <= 0, more than 4 stop strings, empty inputs or more input
  words than ``max_input_tokens`` give ``{"error": "Input validation error: ...", "error_type":
  "validation"}``, as HTTP 422 from /generate and as an error event in a 200 stream from
  /generate_stream; inputs that are not a string give axum's plain-text 422. A stop string ends
  the text and stays in it (finish ``stop_sequence``); ``max_new_tokens`` caps it (``length``).
- ``triton`` (the generate extension): ``POST /v2/models/{model}/generate`` -> ``{"model_name",
  "model_version", "text_output"}``; ``/generate_stream`` -> one such object per token, as
  ``text/event-stream; charset=utf-8``. ``parameters`` must hold scalars; a model outside
  ``known_models`` is HTTP 400 "Request for unknown model"; errors are ``{"error": message}``.
  Unless ``parameters.exclude_input_in_output`` is true the prompt is prepended to the output,
  as Triton's vLLM backend does; ``parameters.max_tokens`` caps the text.
- ``mindie`` (MindIE's native text/stream inference API): ``POST /infer``; ``"stream": false`` ->
  ``{"generated_text", "details"}``; ``true`` -> events ``{"prefill_time", "decode_time",
  "token": {"id": [..], "text"}}``, the last with the whole ``generated_text``, ``details`` and a
  null ``token.text`` (the last token's text is only in ``generated_text``). ``max_new_tokens``
  defaults to 20 and a temperature must be above 1e-6, as documented. The pages show no error
  body; this server sends ``{"error": message}`` with HTTP 400.

Replies are looked up by the prompt (``inputs`` / ``text_input``, exact match), else
``default_reply``. Tokens are whitespace-led words; token counts are word counts.

Every request is recorded (``server.requests``: path, lower-case headers, JSON body), then checked
in order: ``required_headers`` (401, echoing the value it got), the scripted ``Fault`` for this
request number if any (``faults[0]`` for the first request, ...), the protocol's validation, the
reply. Faults: ``Fault.http(status, body, retry_after)``, ``Fault.delay(seconds)`` (then the normal
reply), ``Fault.drop()`` (close without a reply), ``Fault.truncate(after)`` (a JSON body cut short of
its Content-Length, or a stream dropped after ``after`` events, without its final chunk),
``Fault.stream_error(message, after)`` (an error event after ``after`` events of a 200 stream).
Streams use chunked transfer encoding, as the real servers do, so a dropped stream is visible.

In a test: ``with NativeServer("tgi", {"hi": "hello"}) as server: ... server.base_url``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.servers.loopback import LoopbackHTTPServer, LoopbackServer, QuietHandler

__all__ = ["PROTOCOLS", "Fault", "NativeRequest", "NativeServer"]

PROTOCOLS = ("tgi", "triton", "mindie")
TGI_MAX_STOP = 4
MINDIE_DEFAULT_MAX_NEW_TOKENS = 20


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request instead of (or on top of) the normal reply; see the module doc."""

    kind: str
    status: int = 500
    body: str | None = None
    retry_after: str | None = None
    seconds: float = 0.0
    after: int = 0
    message: str = ""

    @classmethod
    def http(cls, status: int, body: str | None = None, retry_after: str | None = None) -> Fault:
        return cls("http", status=status, body=body, retry_after=retry_after)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def truncate(cls, after: int = 1) -> Fault:
        return cls("truncate", after=after)

    @classmethod
    def stream_error(cls, message: str, after: int = 1) -> Fault:
        return cls("stream_error", message=message, after=after)


@dataclass(slots=True)
class _Answer:
    """A reply to send: a JSON (or plain-text) body, or server-sent events."""

    status: int = 200
    body: Any = None
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # default: application/json for a body, text/event-stream for events
    data_prefix: str = "data: "
    keep_alive: bool = False


@dataclass(frozen=True, slots=True)
class _Generation:
    pieces: list[str]
    finish_reason: str

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _words(text: str) -> int:
    return len(text.split())


class NativeServer(LoopbackServer):
    """Serves in a daemon thread from ``start()`` (or ``with``) until ``stop()``."""

    def __init__(self, protocol: str, replies: Mapping[str, str] | None = None, default_reply: str = "", *,
                 known_models: set[str] | None = None, required_headers: Mapping[str, str] | None = None,
                 max_input_tokens: int | None = None, faults: Sequence[Fault] = (), chunk_delay_s: float = 0.0,
                 port: int = 0) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol = protocol
        self.replies = dict(replies or {})
        self.default_reply = default_reply
        self.known_models = set(known_models) if known_models is not None else None
        self.required_headers = {k.lower(): v for k, v in (required_headers or {}).items()}
        self.max_input_tokens = max_input_tokens
        self.faults = list(faults)
        self.chunk_delay_s = chunk_delay_s
        self._received: list[NativeRequest] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), port=port, name=f"native-{protocol}", server_class=_QuietServer)

    @property
    def base_url(self) -> str:
        return self.root_url

    @property
    def requests(self) -> list[NativeRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._received)





    # -- one request -------------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[_Answer, Fault | None]:
        """The answer to one request (recorded first) and the fault to apply while sending it."""
        with self._lock:
            self._received.append(NativeRequest(path, headers, body))
            number = len(self._received)
        fault = self.faults[number - 1] if number <= len(self.faults) else None
        for name, expected in self.required_headers.items():
            if headers.get(name) != expected:
                return _Answer(401, {"error": f"invalid credentials: {headers.get(name, '(none)')}"}), None
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if fault is not None and fault.kind == "http":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            payload: Any = fault.body
            if payload is None:
                payload = {"error": f"injected failure (HTTP {fault.status})"}
            return _Answer(fault.status, payload, headers=extra), None
        if not isinstance(body, dict):
            return _Answer(400, {"error": "expected a JSON object"}), None
        answer = {"tgi": self._tgi, "triton": self._triton, "mindie": self._mindie}[self.protocol](path, body)
        return answer, fault

    def _generate(self, prompt: str, stop: Sequence[str], max_tokens: Any) -> _Generation:
        text, finish = self.replies.get(prompt, self.default_reply), "eos_token"
        ends = [text.find(s) + len(s) for s in stop if s and s in text]
        if ends:
            text, finish = text[: min(ends)], "stop_sequence"
        pieces = re.findall(r"\s*\S+", text)
        if isinstance(max_tokens, int) and len(pieces) > max_tokens:
            pieces, finish = pieces[:max_tokens], "length"
        return _Generation(pieces, finish)

    # -- TGI ---------------------------------------------------------------------------------

    def _tgi(self, path: str, body: dict[str, Any]) -> _Answer:
        if path not in ("/generate", "/generate_stream"):
            return _Answer(404, {"error": f"no route {path}"})
        stream = path == "/generate_stream"
        inputs, params = body.get("inputs"), body.get("parameters") or {}
        if not isinstance(inputs, str) or not isinstance(params, dict):
            return _Answer(422, "Failed to deserialize the JSON body into the target type: inputs: invalid type",
                           content_type="text/plain; charset=utf-8")
        problem = self._tgi_invalid(inputs, params)
        if problem is not None:
            error = {"error": f"Input validation error: {problem}", "error_type": "validation"}
            return _Answer(events=[error], data_prefix="data:", keep_alive=True) if stream else _Answer(422, error)
        generation = self._generate(inputs, params.get("stop") or [], params.get("max_new_tokens"))
        if not stream:
            return _Answer(body={"generated_text": generation.text,
                                 "details": self._tgi_details(generation) if params.get("details") else None})
        return _Answer(events=self._tgi_events(inputs, generation, bool(params.get("details"))),
                       data_prefix="data:", keep_alive=True)

    def _tgi_invalid(self, inputs: str, params: dict[str, Any]) -> str | None:
        """The router's validation messages (router/src/validation.rs), first failing check."""
        temperature, stop = params.get("temperature"), params.get("stop") or []
        if temperature is not None and temperature <= 0:
            return "`temperature` must be strictly positive"
        if params.get("max_new_tokens") == 0:
            return "`max_new_tokens` must be strictly positive"
        if len(stop) > TGI_MAX_STOP:
            return f"`stop` supports up to {TGI_MAX_STOP} stop sequences. Given: {len(stop)}"
        if not inputs:
            return "`inputs` cannot be empty"
        if self.max_input_tokens is not None and _words(inputs) > self.max_input_tokens:
            return f"`inputs` must have less than {self.max_input_tokens} tokens. Given: {_words(inputs)}"
        return None

    @staticmethod
    def _tgi_token(index: int, text: str, special: bool = False) -> dict[str, Any]:
        return {"id": 2 if special else 100 + index, "text": text, "logprob": -0.25, "special": special}

    def _tgi_details(self, generation: _Generation) -> dict[str, Any]:
        tokens = [self._tgi_token(i, p) for i, p in enumerate(generation.pieces)]
        if generation.finish_reason == "eos_token":
            tokens.append(self._tgi_token(len(tokens), "</s>", special=True))
        return {"finish_reason": generation.finish_reason, "generated_tokens": len(tokens), "seed": None,
                "prefill": [], "tokens": tokens}

    def _tgi_events(self, inputs: str, generation: _Generation, details: bool) -> list[Any]:
        tokens = self._tgi_details(generation)["tokens"]
        events = [{"index": i, "token": token, "top_tokens": [], "generated_text": None, "details": None}
                  for i, token in enumerate(tokens)]
        if not events:  # TGI always streams at least one token
            events = [{"index": 0, "token": self._tgi_token(0, "</s>", True), "top_tokens": [],
                       "generated_text": None, "details": None}]
        events[-1]["generated_text"] = generation.text
        if details:
            events[-1]["details"] = {"finish_reason": generation.finish_reason, "generated_tokens": len(events),
                                     "seed": None, "input_length": _words(inputs)}
        return events

    # -- Triton ------------------------------------------------------------------------------

    def _triton(self, path: str, body: dict[str, Any]) -> _Answer:
        match = re.fullmatch(r"/v2/models/([^/]+)(?:/versions/[^/]+)?/(generate|generate_stream)", path)
        if match is None:
            return _Answer(404, {"error": "Not Found"})
        model, stream = unquote(match[1]), match[2] == "generate_stream"
        if self.known_models is not None and model not in self.known_models:
            return _Answer(400, {"error": f"Request for unknown model: '{model}' is not found"})
        text_input, params = body.get("text_input"), body.get("parameters", {})
        if not isinstance(text_input, str):
            return _Answer(400, {"error": "input 'text_input' is missing or is not a string"})
        if not isinstance(params, dict):
            return _Answer(400, {"error": "parameters must be a JSON object"})
        for name, value in params.items():
            if isinstance(value, (list, dict)) or value is None:
                return _Answer(400, {"error": f"parameter '{name}' has invalid type. It should be either "
                                              "'int', 'float', 'bool' or 'string'."})
        if self.max_input_tokens is not None and _words(text_input) > self.max_input_tokens:
            return _Answer(400, {"error": f"Input prompt ({_words(text_input)} tokens) is too long and exceeds "
                                          f"limit of {self.max_input_tokens}"})
        generation = self._generate(text_input, [], params.get("max_tokens"))
        prefix = "" if params.get("exclude_input_in_output") is True else text_input
        out = {"model_name": model, "model_version": "1"}
        if not stream:
            return _Answer(body=out | {"text_output": prefix + generation.text})
        pieces = generation.pieces or [""]
        events = [out | {"text_output": (prefix if i == 0 else "") + piece} for i, piece in enumerate(pieces)]
        return _Answer(events=events, content_type="text/event-stream; charset=utf-8")

    # -- MindIE ------------------------------------------------------------------------------

    def _mindie(self, path: str, body: dict[str, Any]) -> _Answer:
        if path != "/infer":
            return _Answer(404, {"error": f"no route {path}"})
        inputs, params = body.get("inputs"), body.get("parameters") or {}
        if not isinstance(inputs, str) or not inputs or not isinstance(params, dict):
            return _Answer(400, {"error": "inputs must be a non-empty string"})
        temperature = params.get("temperature")
        if temperature is not None and temperature <= 1e-6:
            return _Answer(400, {"error": "Parameter temperature must be greater than 1e-6"})
        if self.max_input_tokens is not None and _words(inputs) > self.max_input_tokens:
            return _Answer(400, {"error": f"Input length ({_words(inputs)}) exceeds maxInputTokenLen "
                                          f"({self.max_input_tokens})"})
        generation = self._generate(inputs, [], params.get("max_new_tokens", MINDIE_DEFAULT_MAX_NEW_TOKENS))
        finish = "length" if generation.finish_reason == "length" else "eos_token"
        details = {"finish_reason": finish, "generated_tokens": len(generation.pieces), "seed": 846930886}
        if body.get("stream") is not True:
            reply = {"generated_text": generation.text}
            return _Answer(body=reply | {"details": details} if params.get("details") else reply)
        events: list[Any] = [{"prefill_time": 45.5 if i == 0 else None, "decode_time": None if i == 0 else 16.8,
                              "token": {"id": [100 + i], "text": piece}}
                             for i, piece in enumerate(generation.pieces[:-1])]
        events.append({"prefill_time": None if events else 45.5, "decode_time": 16.8, "generated_text": generation.text,
                       "details": details if params.get("details") else None,
                       "token": {"id": [100 + len(events)], "text": None}})
        return _Answer(events=events)


class _QuietServer(LoopbackHTTPServer):
    """Clients that hang up early (timeouts, abandoned streams) are expected here, not reported."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: NativeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                body: Any = json.loads(raw or b"null")
            except ValueError:
                body = None
            answer, fault = server.handle(self.path.split("?", 1)[0], headers, body)
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
            elif answer.events is not None:
                self._send_events(answer, fault)
            else:
                self._send_body(answer, fault)

        def _send_body(self, answer: _Answer, fault: Fault | None) -> None:
            text = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
            payload = text.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type or "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if fault is not None and fault.kind == "truncate":
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            self.wfile.write(payload)

        def _send_events(self, answer: _Answer, fault: Fault | None) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type or "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if answer.keep_alive:
                self._chunk(b":\n\n")
            events = answer.events or []
            for index, event in enumerate(events):
                if fault is not None and index == fault.after and fault.kind == "truncate":
                    self.close_connection = True  # no terminating chunk: the stream is cut short
                    return
                if fault is not None and index == fault.after and fault.kind == "stream_error":
                    self._chunk(f"{answer.data_prefix}{json.dumps({'error': fault.message})}\n\n".encode())
                    break
                if index and server.chunk_delay_s:
                    server._stopping.wait(server.chunk_delay_s)
                self._chunk(f"{answer.data_prefix}{json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    return Handler
