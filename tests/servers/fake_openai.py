"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies and injected faults.

Replies are keyed by the last user message, so tests know exactly what the model "said". It runs
in a daemon thread of the test process, or as its own process (``python -m tests.servers.fake_openai``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer"]


class FakeOpenAIServer:
    def __init__(self, replies: Mapping[str, str] | None = None, default_reply: str = "", *,
                 required_key: str | None = None, known_models: set[str] | None = None,
                 fail_first: int = 0, fail_status: int = 500, delay_s: float = 0.0,
                 malformed: bool = False) -> None:
        self.replies = dict(replies or {})
        self.default_reply = default_reply
        self.required_key, self.known_models = required_key, known_models
        self.fail_first, self.fail_status, self.delay_s, self.malformed = fail_first, fail_status, delay_s, malformed
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, body: dict[str, Any], auth: str) -> tuple[int, Any]:
        """Status and JSON body for one chat request; recording it first."""
        with self._lock:
            self.requests.append(body)
            number = len(self.requests)
        if self.required_key is not None and auth != f"Bearer {self.required_key}":
            return 401, {"error": {"message": f"Incorrect API key provided: {auth.removeprefix('Bearer ')}", "type": "invalid_request_error", "code": "invalid_api_key"}}
        model = body.get("model", "")
        if self.known_models is not None and model not in self.known_models:
            return 404, {"error": {"message": f"The model `{model}` does not exist", "type": "invalid_request_error", "code": "model_not_found"}}
        if number <= self.fail_first:
            return self.fail_status, {"error": {"message": "injected failure", "type": "server_error"}}
        if self.malformed:
            return 200, {"id": "x", "object": "chat.completion"}
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        prompt = users[-1]["content"] if users else ""
        text = self.replies.get(prompt, self.default_reply)
        return 200, {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                      "total_tokens": len(prompt.split()) + len(text.split())},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    models = sorted(server.known_models or {"test-model"})
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if server.delay_s:
                    time.sleep(server.delay_s)
                self._send(*server._answer(body, self.headers.get("Authorization", "")))

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", help="JSON file: last user message -> reply")
    parser.add_argument("--default-reply", default="")
    parser.add_argument("--required-key")
    parser.add_argument("--known-model", action="append")
    args = parser.parse_args()
    replies = json.load(open(args.replies, encoding="utf-8")) if args.replies else {}
    server = FakeOpenAIServer(replies, args.default_reply, required_key=args.required_key,
                              known_models=set(args.known_model) if args.known_model else None).start()
    print(f"READY {server.base_url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
