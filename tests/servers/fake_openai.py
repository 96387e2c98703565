"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies and injected faults.

It speaks ``GET /v1/models`` and non-streaming ``POST /v1/chat/completions``. The reply is looked
up by the content of the last user message (exact match), else ``default_reply``; it is sent
verbatim (``max_tokens`` and ``stop`` are recorded, not applied). ``usage`` counts
whitespace-separated words of all message contents and of the reply.

Each chat request is checked in this order: recorded, delayed by ``delay_s``, key (401 unless
``Authorization: Bearer <required_key>``), model (404 unless in ``known_models``), injected
failure (the first ``fail_first`` requests get ``fail_status`` with ``fail_body``, or an
OpenAI-style error JSON), then the reply.

``POST /v1/completions`` answers only when ``completions`` names a behaviour (otherwise it is a
404, like a chat-only server's), after the same key and model checks. Prompts are split into tokens
by ``fake_tokens`` (a word with the whitespace before it) and every token's log-probability is
``fake_logprob(token)``; the reply text is the prompt (with ``echo``), then ``GENERATED``:
- ``"echo"``: vLLM's shape. A list of prompts is one choice each; the echo starts with a ``<s>``
  entry and ends with the generated token; ``text_offset`` adds up the tokens' lengths.
- ``"echo-single"``: llama-cpp-python's shape with a BOS model: a list of more than one prompt is
  an HTTP 500; the echo has no BOS entry and ends with the generated token.
- ``"shifted"``: llama-cpp-python with a model without BOS: each prompt token carries the next
  token's alternatives (abetlen/llama-cpp-python#1983); no generated entry.
- ``"null-logprobs"``: ``logprobs: null`` (echo and logprobs ignored).
- ``"generated-only"``: log-probabilities of the generated token only (llama.cpp's llama-server).
Completion requests are recorded in ``completion_requests``, apart from the chat ones.

In a test: ``with FakeOpenAIServer({"hi": "hello"}) as server: ... server.base_url``.
As a process: ``python -m tests.servers.fake_openai --replies replies.json`` prints
``READY http://127.0.0.1:PORT/v1`` and serves until terminated.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.loopback import LoopbackServer, QuietHandler

__all__ = ["COMPLETION_MODES", "GENERATED", "FakeOpenAIServer", "Received", "fake_logprob", "fake_tokens", "main"]

DEFAULT_MODEL = "fake-model"
COMPLETION_MODES = ("echo", "echo-single", "shifted", "null-logprobs", "generated-only")
GENERATED = " x"  # the one token every completion generates


class Received(dict[str, Any]):
    """One chat request as the server saw it: this dict is its JSON body (``r["model"]``), and
    ``r.headers`` its headers, with lower-case names."""

    def __init__(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        super().__init__(body)
        self.headers = dict(headers)

    @property
    def body(self) -> dict[str, Any]:
        return dict(self)

    @property
    def last_user_message(self) -> str:
        users = [m for m in self.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""


def _error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _words(text: object) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def fake_tokens(text: str) -> list[str]:
    """The fake tokenizer: each word with the whitespace before it; trailing whitespace alone."""
    return re.findall(r"\s*\S+|\s+$", text)


def fake_logprob(token: str) -> float:
    """Every token's log-probability at any position: longer words are less likely."""
    return -0.25 * (len(token.strip()) + 1)


class FakeOpenAIServer(LoopbackServer):
    """Serves in a daemon thread from ``start()`` (or ``with``) until ``stop()``."""

    def __init__(self, replies: Mapping[str, str] | None = None, default_reply: str = "", *,
                 required_key: str | None = None, known_models: set[str] | None = None,
                 fail_first: int = 0, fail_status: int = 500, fail_body: str | None = None,
                 retry_after_s: float | None = None, delay_s: float = 0.0, completions: str | None = None,
                 port: int = 0, reply_for: Callable[[str], str] | None = None) -> None:
        if completions is not None and completions not in COMPLETION_MODES:
            raise ValueError(f"completions: expected one of {COMPLETION_MODES}, got {completions!r}")
        self.replies = dict(replies or {})
        self.reply_for = reply_for  # computes the reply to a last user message (before ``replies``)
        self.completions = completions
        self.default_reply = default_reply
        self.required_key = required_key
        self.known_models = set(known_models) if known_models is not None else None
        self.fail_first, self.fail_status, self.fail_body = fail_first, fail_status, fail_body
        self.retry_after_s = retry_after_s  # sent as retry-after-ms on injected failures
        self.delay_s = delay_s
        self._received: list[Received] = []
        self._completion_received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), port=port, name="fake-openai")

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[Received]:
        """A copy of the chat requests received so far, oldest first."""
        with self._lock:
            return list(self._received)

    @property
    def completion_requests(self) -> list[Received]:
        """A copy of the ``/v1/completions`` requests received so far, oldest first."""
        with self._lock:
            return list(self._completion_received)





    def models(self) -> list[str]:
        return sorted(self.known_models) if self.known_models is not None else [DEFAULT_MODEL]

    def answer(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, extra headers and body for one chat request, which is recorded first."""
        received = Received(body, headers)
        with self._lock:
            self._received.append(received)
            number = len(self._received)
        if self.delay_s > 0:
            self._stopping.wait(self.delay_s)
        refusal = self._refusal(body, headers)
        if refusal is not None:
            return refusal[0], {}, json.dumps(refusal[1]).encode()
        if number <= self.fail_first:
            return self._injected_failure()
        return 200, {}, json.dumps(self._completion(body, received.last_user_message, number)).encode()

    def _refusal(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        if self.required_key is not None and headers.get("authorization") != f"Bearer {self.required_key}":
            token = headers.get("authorization", "").removeprefix("Bearer ")
            return 401, _error(f"Incorrect API key provided: {token}.", "invalid_request_error", "invalid_api_key")
        model = body.get("model")
        if self.known_models is not None and model not in self.known_models:
            return 404, _error(f"The model `{model}` does not exist or you do not have access to it.",
                               "invalid_request_error", "model_not_found")
        return None

    def answer_completion(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, extra headers and body for one completions request, which is recorded first."""
        with self._lock:
            self._completion_received.append(Received(body, headers))
        if self.completions is None:  # a chat-only server
            return 404, {}, json.dumps(_error("no route POST /v1/completions", "invalid_request_error")).encode()
        refusal = self._refusal(body, headers)
        if refusal is not None:
            return refusal[0], {}, json.dumps(refusal[1]).encode()
        prompt = body.get("prompt", "")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        if self.completions == "echo-single" and len(prompts) > 1:
            return 500, {}, json.dumps(_error("", "internal_server_error")).encode()
        echo, logprobs = bool(body.get("echo")), body.get("logprobs")
        choices = [self._completion_choice(str(p), i, echo, logprobs) for i, p in enumerate(prompts)]
        prompt_tokens = sum(len(fake_tokens(str(p))) + (self.completions == "echo") for p in prompts)
        return 200, {}, json.dumps({
            "id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
            "model": body.get("model", DEFAULT_MODEL), "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(prompts),
                      "total_tokens": prompt_tokens + len(prompts)},
        }).encode()

    def _completion_choice(self, prompt: str, index: int, echo: bool, logprobs: object) -> dict[str, Any]:
        text = prompt + GENERATED if echo else GENERATED
        choice: dict[str, Any] = {"index": index, "text": text, "finish_reason": "length", "logprobs": None}
        if logprobs is None or self.completions == "null-logprobs":
            return choice
        if self.completions == "generated-only" or not echo:
            tokens = [GENERATED]
        else:
            bos, generated = ["<s>"] * (self.completions == "echo"), [GENERATED] * (self.completions != "shifted")
            tokens = bos + fake_tokens(prompt) + generated
        values: list[float | None] = [None if t == "<s>" else fake_logprob(t) for t in tokens]
        tops: list[dict[str, float] | None] = [None if v is None else {t: v} for t, v in zip(tokens, values)]
        if self.completions == "shifted":  # each position lists the next token as the likeliest
            tops = [None if v is None else {**({tokens[i + 1]: 0.0} if i + 1 < len(tokens) else {}), tokens[i]: v}
                    for i, v in enumerate(values)]
        if echo and tokens and tokens[0] != "<s>":
            values[0], tops[0] = None, None  # nothing predicts a prompt's first token
        offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
        choice["logprobs"] = {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}
        return choice

    def _injected_failure(self) -> tuple[int, dict[str, str], bytes]:
        headers: dict[str, str] = {}
        if self.retry_after_s is not None:
            headers["retry-after-ms"] = str(int(self.retry_after_s * 1000))
        if self.fail_body is not None:
            return self.fail_status, headers, self.fail_body.encode()
        body = _error(f"injected failure (HTTP {self.fail_status})", "server_error")
        return self.fail_status, headers, json.dumps(body).encode()

    def _completion(self, body: dict[str, Any], prompt: str, number: int) -> dict[str, Any]:
        text = self.reply_for(prompt) if self.reply_for is not None else self.replies.get(prompt, self.default_reply)
        prompt_tokens = sum(_words(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))
        return {
            "id": f"chatcmpl-fake-{number}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", DEFAULT_MODEL),
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": _words(text),
                      "total_tokens": prompt_tokens + _words(text)},
        }


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _path(self) -> str:
            return self.path.split("?", 1)[0].rstrip("/")

        def do_GET(self) -> None:
            if self._path() == "/v1/models":
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models()]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())
            else:
                self._send(404, json.dumps(_error(f"no route GET {self.path}", "invalid_request_error")).encode())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            completion = self._path() == "/v1/completions"
            if self._path() != "/v1/chat/completions" and not completion:
                self._send(404, json.dumps(_error(f"no route POST {self.path}", "invalid_request_error")).encode())
                return
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self._send(400, json.dumps(_error(f"invalid JSON body: {exc}", "invalid_request_error")).encode())
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, payload = (server.answer_completion if completion else server.answer)(body, headers)
            self._send(status, payload, extra)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.servers.fake_openai", description=__doc__.splitlines()[0])
    parser.add_argument("--replies", help="JSON file: {last user message: reply}")
    parser.add_argument("--default-reply", default="")
    parser.add_argument("--required-key")
    parser.add_argument("--known-model", action="append", help="repeat for several; default: any model")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--delay-s", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    replies = {}
    if args.replies:
        with open(args.replies, encoding="utf-8") as f:
            replies = json.load(f)
    server = FakeOpenAIServer(replies, args.default_reply, required_key=args.required_key,
                              known_models=set(args.known_model) if args.known_model else None,
                              fail_first=args.fail_first, fail_status=args.fail_status,
                              delay_s=args.delay_s, port=args.port)
    with server:
        print(f"READY {server.base_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
