"""What every test server shares: a threaded HTTP server on 127.0.0.1, served from a daemon
thread between ``start()`` and ``stop()`` (or a ``with`` block), and a ``stopping`` event that
delayed handlers wait on, so stopping never waits for an injected delay to run out."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["LoopbackHTTPServer", "LoopbackServer", "QuietHandler"]


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive connections, as real servers and clients use them, and no log line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A listen backlog of 128, not the stdlib's 5: tests that open 16 or 32 connections at once
    otherwise see connection resets that no real server would send. A client that hangs up (as a
    bounded client does on a server that hangs or trickles) is not an error of the server: no
    traceback is printed for it, which would land in the output of the pytester run under test."""

    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset, broken pipe, aborted
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0, name: str = "test-server",
                 server_class: type[ThreadingHTTPServer] = LoopbackHTTPServer) -> None:
        self._stopping = threading.Event()
        self._httpd = server_class(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=name, daemon=True)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; idempotent. Delayed requests are released at once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
