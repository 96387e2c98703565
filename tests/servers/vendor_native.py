"""A real HTTP server on 127.0.0.1 speaking ZhipuAI's native v4 chat API, business error codes
included: the vendor that the README's "Backends of your own" writes a backend for.

``POST /api/paas/v4/chat/completions`` with ``Authorization: Bearer <key>``. The reply is looked up
by the last user message (exact match), else ``default_reply``. Each request is recorded, then:
- no key, or not ``required_key``: HTTP 401 with code 1001 / 1002;
- a model outside ``known_models``: HTTP 400, code 1211;
- a last user message listed in ``faults`` gets that fault: a business code (HTTP status and
  message as the vendor documents them, in ``CODES``), or ``"sensitive"``: HTTP 200 whose
  ``finish_reason`` is ``sensitive`` (the vendor's word for a reply its filter stopped).
Errors have the vendor's body: ``{"error": {"code": "1301", "message": "..."}}`` (the code a string).

    with VendorNativeServer({"hi": "hello"}, faults={"bad": "1301"}) as server:
        server.base_url   # "http://127.0.0.1:PORT/api/paas/v4"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers.loopback import LoopbackServer, QuietHandler

__all__ = ["CODES", "VendorNativeServer"]

ROUTE = "/api/paas/v4/chat/completions"
# code: (HTTP status, message), from the vendor's error code reference (docs.z.ai/api-reference/api-code)
CODES: dict[str, tuple[int, str]] = {
    "1001": (401, "Authentication parameter not received in Header, unable to authenticate"),
    "1002": (401, "Invalid Authentication Token, please confirm the correct transmission of the Authentication Token"),
    "1113": (429, "Your account is in arrears, please recharge and try again"),
    "1211": (400, "Model does not exist, please check the model code"),
    "1261": (400, "Prompt exceeds max length"),
    "1301": (400, ("System detected potentially unsafe or sensitive content in input or generation. Please avoid "
                   "using prompts that may generate sensitive content. Thank you for your cooperation.")),
    "1302": (429, ("High concurrency usage of this API, please reduce concurrency or contact customer service to "
                   "increase limits")),
    "1303": (429, ("High frequency usage of this API, please reduce frequency or contact customer service to "
                   "increase limits")),
    "1304": (429, "The daily call limit for this API has been reached"),
    "1305": (429, "The service may be temporarily overloaded, please try again later"),
}


class VendorNativeServer(LoopbackServer):
    """Serves in a daemon thread from ``start()`` (or ``with``) until ``stop()``."""

    def __init__(self, replies: Mapping[str, str] | None = None, default_reply: str = "", *,
                 faults: Mapping[str, str] | None = None, required_key: str | None = None,
                 known_models: set[str] | None = None) -> None:
        unknown = set((faults or {}).values()) - set(CODES) - {"sensitive"}
        if unknown:
            raise ValueError(f"faults: unknown codes {sorted(unknown)}")
        self.replies, self.default_reply = dict(replies or {}), default_reply
        self.faults = dict(faults or {})
        self.required_key, self.known_models = required_key, known_models
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), name="vendor-native")

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/paas/v4"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received so far, oldest first."""
        with self._lock:
            return list(self._received)





    def answer(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._received.append(body)
        if self.required_key is not None and authorization != f"Bearer {self.required_key}":
            return _fault("1001" if not authorization else "1002")
        if self.known_models is not None and body.get("model") not in self.known_models:
            return _fault("1211")
        users = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        prompt = str(users[-1].get("content", "")) if users else ""
        fault = self.faults.get(prompt)
        if fault is not None and fault != "sensitive":
            return _fault(fault)
        text = "" if fault == "sensitive" else self.replies.get(prompt, self.default_reply)
        return 200, _completion(body, text, "sensitive" if fault else "stop", len(self._received))


def _fault(code: str) -> tuple[int, dict[str, Any]]:
    status, message = CODES[code]
    return status, {"error": {"code": code, "message": message}}


def _completion(body: dict[str, Any], text: str, finish_reason: str, number: int) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []) if isinstance(m, dict))
    return {
        "id": f"2025{number:08d}", "request_id": f"req-{number}", "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                  "total_tokens": prompt_tokens + len(text.split())},
    }


def _handler_for(server: VendorNativeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?", 1)[0].rstrip("/") != ROUTE:
                self._send(404, {"error": {"code": "1222", "message": f"API {self.path} does not exist"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, {"error": {"code": "1210", "message": "Incorrect API call parameters"}})
                return
            self._send(*server.answer(body, self.headers.get("Authorization")))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
