"""The HTTP transport the built-in HTTP backends (``openai``, ``http``) share.

httpx's timeout bounds each network operation, not the whole response: a server that sends a
byte every few seconds, or a chunked body that never ends, holds a request forever without one
read timing out. ``BoundedTransport`` ends the body with a ``ReadTimeout`` once the request's own
timeout has passed in all, so one attempt never takes much longer than its timeout (at most one
more read), whatever the server does. Both backends then report it as a timeout, retried.

It also hands each request an httpcore ``trace`` hook when given one (the ``openai`` backend
notes there when a streamed request's headers went out), keeping any hook the request has.
httpx2 is imported by the backends that use this, never by the plugin.

``BoundedTransport.post`` is the hot path's way through the same pool: one POST straight on
httpcore's connection pool, its body read whole under the same bound, without building httpx's
``Request``/``Response`` objects or going through a client's auth, redirect and cookie layers
(together about a third of httpx's CPU per request). Its errors are httpx's own, raised by httpx's
own mapping, so a caller tells them apart exactly as it would through a client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx2
from httpx2._transports.default import map_httpcore_exceptions  # httpx's own httpcore -> httpx mapping

__all__ = ["BoundedTransport", "RawReply"]

Trace = Callable[[str, dict[str, Any]], None]


class BoundedTransport(httpx2.HTTPTransport):
    def __init__(self, *args: Any, trace: Trace | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trace = trace

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._trace is not None:
            request.extensions = {**request.extensions, "trace": _chained(request.extensions.get("trace"), self._trace)}
        total = (request.extensions.get("timeout") or {}).get("read")
        started = time.perf_counter()
        response = super().handle_request(request)
        if total is not None:
            response.stream = _BoundedStream(response.stream, started + float(total), float(total), request)
        return response

    def post(self, url: Any, headers: list[tuple[bytes, bytes]], content: bytes, timeout: float) -> RawReply:
        """POST ``content`` to ``url`` (an ``httpcore2.URL``) and read the whole reply, bounded by
        ``timeout`` per operation and in all, as ``handle_request`` bounds a client's request.
        ``headers`` name the Host; the Content-Length is added here. Raises httpx2's exceptions
        (``ReadTimeout``, ``ConnectError``, ...) with httpx's messages."""
        import httpcore2

        limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        headers = [*headers, (b"Content-Length", str(len(content)).encode())]
        request = httpcore2.Request(b"POST", url, headers=headers, content=content, extensions={"timeout": limits})
        deadline = time.perf_counter() + timeout
        with map_httpcore_exceptions():
            response = self._pool.handle_request(request)
            try:
                assert isinstance(response.stream, Iterable)  # a sync pool's stream, as httpx asserts
                chunks = []
                for chunk in response.stream:
                    if time.perf_counter() > deadline:
                        raise httpx2.ReadTimeout(f"the reply was not complete within {timeout:g} s")
                    chunks.append(chunk)
            finally:
                response.close()
        return RawReply(response.status, response.headers, b"".join(chunks))


class RawReply:
    """A whole HTTP reply as it came: status, raw header pairs and body bytes (not decoded)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class _BoundedStream(httpx2.SyncByteStream):
    def __init__(self, stream: Any, deadline: float, total: float, request: httpx2.Request) -> None:
        self._stream, self._deadline, self._total, self._request = stream, deadline, total, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if time.perf_counter() > self._deadline:
                raise httpx2.ReadTimeout(f"the reply was not complete within {self._total:g} s", request=self._request)
            yield chunk

    def close(self) -> None:
        self._stream.close()


def _chained(first: Trace | None, second: Trace) -> Trace:
    if first is None:
        return second

    def both(name: str, info: dict[str, Any]) -> None:
        first(name, info)
        second(name, info)

    return both
