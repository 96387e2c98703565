"""An OpenAI-compatible chat server on 127.0.0.1 whose faults are scripted per prompt, for the
engine's tests: retries, Retry-After, timeouts, resets, rate limits, concurrency, resume.

``faults`` maps a prompt (the last user message) to what its successive attempts get; attempts
past the list are answered. Each fault is one of:
- ``"429"`` (with ``Retry-After: retry_after_s``; ``"429:99999"`` names the header's value),
  ``"500"``, ``"503"``, ``"400"``, ``"401"``, ``"404"``;
- ``"hang"``: wait ``hang_s`` before answering, past the client's timeout (``"hang:600"``: that
  many seconds, released at once when the server stops);
- ``"truncated"``: a 200 whose JSON body stops half way (the connection then closes);
- ``"reset"``: the connection is closed with a TCP reset, no response at all;
- ``"html"``: a 200 whose body is an HTML page (a proxy's login or error page);
- ``"no-choices"``: a 200 with ``choices: []``;
- ``"filtered"``: a reply stopped by the content filter (``finish_reason: content_filter``);
- ``"cut"``: a stream that ends cleanly after some words, with no finish reason and no ``[DONE]``;
- ``"endless"``: a chunked 200 body that never ends (a chunk every 50 ms until the client leaves);
- ``"huge"``: a 200 whose reply is ``huge_chars`` characters long;
- ``"echo"``: a 200 whose reply repeats the request's Authorization header;
- ``"500-echo"``: a 500 whose error message repeats the Authorization header;
- ``"stream-error"``: a stream that sends an error object instead of its chunks.
The answer to a prompt is ``replies[prompt]``, else ``default_reply``, after ``delay_s``. A reply
(not streamed) says it used ``usage`` = (prompt, completion) tokens, logged with it; ``usage=None``
sends no ``usage`` at all, as some servers do.
Only paths under ``/v1/`` exist (``GET /v1/models``, ``POST /v1/chat/completions``); any other
answers 404, as a real server does when its base URL is given without ``/v1``.

A request with ``"stream": true`` is answered with server-sent events, as OpenAI's API does: a
role-only chunk at once, then the reply's words (each with its leading space) one chunk each, the
first after ``first_token_s`` and the rest ``token_gap_s`` apart (``stream_delays[prompt]`` =
``(first_token_s, token_gap_s)`` overrides both per prompt), a final empty chunk with the
finish reason, a usage chunk when ``stream_options.include_usage`` asks for it (unless
``stream_usage`` is False), and ``data: [DONE]``. With ``reject_stream_options`` a body carrying
``stream_options`` gets a 400, as some servers answer.

Every request is logged with its arrival and end times and what it got, so tests can count
requests per prompt, measure the rate the server saw, and the most requests it held at once.

As a process (for tests that kill the client): ``python -m tests.servers.fault_server --delay 0.2``
prints ``READY <base_url>`` and serves until terminated; ``GET /log`` returns the log as JSON.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.loopback import LoopbackServer, QuietHandler

__all__ = ["FaultServer", "Logged"]


@dataclass
class Logged:
    prompt: str
    attempt: int
    outcome: str  # "ok" or the fault
    arrived: float
    ended: float = 0.0
    authorization: str = ""
    usage: tuple[int, int] | None = None  # the (prompt, completion) tokens the reply said it used


class FaultServer(LoopbackServer):
    def __init__(self, faults: Mapping[str, list[str]] | None = None, *, replies: Mapping[str, str] | None = None,
                 default_reply: str = "ok", delay_s: float = 0.0, hang_s: float = 3.0,
                 retry_after_s: float = 0.2, port: int = 0, first_token_s: float = 0.0, token_gap_s: float = 0.0,
                 stream_delays: Mapping[str, tuple[float, float]] | None = None, stream_usage: bool = True,
                 reject_stream_options: bool = False, huge_chars: int = 2_000_000,
                 usage: tuple[int, int] | None = (3, 1)) -> None:
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.replies, self.default_reply = dict(replies or {}), default_reply
        self.delay_s, self.hang_s, self.retry_after_s = delay_s, hang_s, retry_after_s
        self.first_token_s, self.token_gap_s, self.stream_delays = first_token_s, token_gap_s, dict(stream_delays or {})
        self.stream_usage, self.reject_stream_options = stream_usage, reject_stream_options
        self.huge_chars, self.usage = huge_chars, usage
        self._log: list[Logged] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._active = 0
        self.max_active = 0
        super().__init__(_handler_for(self), port=port, name="fault-server")

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def log(self) -> list[Logged]:
        with self._lock:
            return list(self._log)

    def requests_for(self, prompt: str) -> int:
        return sum(1 for entry in self.log if entry.prompt == prompt)





    def _begin(self, prompt: str, authorization: str) -> Logged:
        with self._lock:
            attempt = self._attempts.get(prompt, 0)
            self._attempts[prompt] = attempt + 1
            script = self.faults.get(prompt, [])
            entry = Logged(prompt, attempt, script[attempt] if attempt < len(script) else "ok", time.time(),
                           authorization=authorization)
            self._log.append(entry)
            self._active += 1
            self.max_active = max(self.max_active, self._active)
            return entry

    def _end(self, entry: Logged) -> None:
        with self._lock:
            entry.ended = time.time()
            self._active -= 1


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/log"):
                self._json(200, [asdict(e) for e in server.log])
            elif self.path.startswith("/v1/"):
                self._json(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if not self.path.startswith("/v1/"):
                self._json(404, {"detail": "Not Found"})
                return
            body = json.loads(raw or b"{}")
            users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
            prompt = users[-1] if users else ""
            entry = server._begin(prompt, self.headers.get("authorization", ""))
            try:
                self._answer(entry, body)
            finally:
                server._end(entry)

        def _answer(self, entry: Logged, body: dict[str, Any]) -> None:
            fault, _, arg = entry.outcome.partition(":")
            if server.delay_s:
                time.sleep(server.delay_s)
            if fault == "hang":
                server._stopping.wait(float(arg) if arg else server.hang_s)
            elif fault == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            elif fault in ("429", "500", "503", "400", "401", "404", "500-echo"):
                headers = {"retry-after": arg or f"{server.retry_after_s:g}"} if fault == "429" else {}
                said = f"injected {fault}" + (f" for {entry.authorization}" if fault == "500-echo" else "")
                self._json(int(fault[:3]), {"error": {"message": said, "type": "fault"}}, headers)
                return
            elif fault == "html":
                self._raw(200, b"<html><body><h1>Sign in to continue</h1></body></html>", "text/html")
                return
            elif fault == "endless":
                self._endless()
                return
            text = server.replies.get(entry.prompt, server.default_reply)
            text = {"huge": "x" * server.huge_chars, "echo": f"you sent {entry.authorization}"}.get(fault, text)
            finish = "content_filter" if fault == "filtered" else "stop"
            if body.get("stream"):
                self._stream(entry, body, text, finish, fault)
                return
            reply = {
                "id": "chatcmpl-fault", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            }
            if server.usage is not None:  # usage=None: a server that sends none
                prompt_tokens, completion_tokens = server.usage
                reply["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                  "total_tokens": prompt_tokens + completion_tokens}
                entry.usage = server.usage
            if fault == "no-choices":
                reply["choices"] = []
            if fault == "truncated":
                raw = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw[: len(raw) // 2])
                self.close_connection = True
                return
            self._json(200, reply)

        def _endless(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.close_connection = True
            try:
                while not server._stopping.wait(0.05):
                    self.wfile.write(b"1\r\n \r\n")
                    self.wfile.flush()
            except OSError:  # the client gave up: what a bounded client does
                pass

        def _raw(self, status: int, raw: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _stream(self, entry: Logged, body: dict[str, Any], text: str, finish: str = "stop", fault: str = "ok") -> None:
            if server.reject_stream_options and "stream_options" in body:
                self._json(400, {"error": {"message": "unknown field stream_options", "type": "invalid_request"}})
                return
            first, gap = server.stream_delays.get(entry.prompt, (server.first_token_s, server.token_gap_s))
            words = text.split(" ")
            pieces = [words[0]] + [" " + w for w in words[1:]]
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            if fault == "stream-error":
                self._event({"error": {"message": "injected engine failure", "type": "fault"}})
                self.wfile.write(b"0\r\n\r\n")
                return
            self._event(_chunk(body, {"role": "assistant", "content": ""}))
            for index, piece in enumerate(pieces):
                time.sleep(first if index == 0 else gap)
                self._event(_chunk(body, {"content": piece}))
            if fault == "cut":  # the body ends as if complete, but the protocol's end never came
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            self._event(_chunk(body, {}, finish))
            usage = {"prompt_tokens": 3, "completion_tokens": len(pieces), "total_tokens": 3 + len(pieces)}
            if server.stream_usage and (body.get("stream_options") or {}).get("include_usage"):
                self._event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0,
                             "model": body.get("model", ""), "choices": [], "usage": usage})
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _event(self, payload: Any) -> None:
            data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _chunk(body: dict[str, Any], delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--reply", default="ok")
    args = parser.parse_args()
    server = FaultServer(delay_s=args.delay, default_reply=args.reply).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
