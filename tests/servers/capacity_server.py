"""An OpenAI-compatible chat server on 127.0.0.1 with a capacity, for adaptive concurrency's tests.

- ``capacity=K``: at most K requests are served at once; one more that arrives while K are being
  served is answered at once with a 429 (``Retry-After: retry_after_s``), as a provider's
  concurrency limit answers.
- ``latency_s`` is how long a request takes; with ``slowdown=K`` it grows with the load, like a
  GPU server's batch: a request that arrives with n requests in the server (itself included)
  takes ``latency_s x (1 + (n / K)^2)``, twice the base at K and five times at 2K.

A request leaves the server's count BEFORE its response is written, so a client that sends its
next request when a reply arrives never finds the server still counting the old one.

Every request is logged with its arrival, its end, its status and the requests in the server when
it arrived (itself included), so tests count 429s and see the concurrency the server saw.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from tests.servers.loopback import LoopbackServer, QuietHandler

__all__ = ["CapacityServer", "Served"]


@dataclass(frozen=True, slots=True)
class Served:
    arrived: float
    ended: float
    status: int
    in_server: int


class CapacityServer(LoopbackServer):
    def __init__(self, *, capacity: int | None = None, latency_s: float = 0.1, slowdown: int | None = None,
                 retry_after_s: float = 0.2, reply: str = "ok") -> None:
        self.capacity, self.latency_s, self.slowdown = capacity, latency_s, slowdown
        self.retry_after_s, self.reply = retry_after_s, reply
        self._lock = threading.Lock()
        self._active = 0
        self._log: list[Served] = []
        super().__init__(_handler_for(self), name="capacity-server")

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def log(self) -> list[Served]:
        with self._lock:
            return sorted(self._log, key=lambda s: s.arrived)

    def _enter(self) -> tuple[bool, int]:
        """Whether the request is served (not over capacity), and the requests in the server."""
        with self._lock:
            if self.capacity is not None and self._active >= self.capacity:
                return False, self._active + 1
            self._active += 1
            return True, self._active

    def _leave(self, arrived: float, status: int, in_server: int, served: bool) -> None:
        with self._lock:
            if served:
                self._active -= 1
            self._log.append(Served(arrived, time.time(), status, in_server))

    def _delay(self, in_server: int) -> float:
        if self.slowdown is None:
            return self.latency_s
        return self.latency_s * (1 + (in_server / self.slowdown) ** 2)


def _handler_for(server: CapacityServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self._json(200, {"object": "list", "data": [{"id": "capacity-model", "object": "model"}]})

        def do_POST(self) -> None:
            arrived = time.time()
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            served, in_server = server._enter()
            if not served:
                server._leave(arrived, 429, in_server, served=False)
                self._json(429, {"error": {"message": "too many requests in flight", "type": "rate_limit"}},
                           {"retry-after": f"{server.retry_after_s:g}"})
                return
            server._stopping.wait(server._delay(in_server))
            server._leave(arrived, 200, in_server, served=True)
            self._json(200, {
                "id": "chatcmpl-capacity", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": server.reply},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            })

    return Handler
