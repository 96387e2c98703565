"""The HTTP transport the built-in HTTP backends (``openai``, ``http``) share.

httpx's timeout bounds each network operation, not the whole response: a server that sends a
byte every few seconds, or a chunked body that never ends, holds a request forever without one
read timing out. ``BoundedTransport`` ends the body with a ``ReadTimeout`` once the request's own
timeout has passed in all, so one attempt never takes much longer than its timeout (at most one
more read), whatever the server does. Both backends then report it as a timeout, retried.

It also hands each request an httpcore ``trace`` hook when given one (the ``openai`` backend
notes there when a streamed request's headers went out), keeping any hook the request has.
httpx2 is imported by the backends that use this, never by the plugin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

__all__ = ["BoundedTransport"]

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
