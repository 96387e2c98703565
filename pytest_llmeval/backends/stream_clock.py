"""When a streamed reply's content arrived: the one clock the streaming backends share, so time to
first token and inter-token latency mean the same for every backend.

Times run from ``start``, the moment the request went out (the caller's choice: the http backend
takes the request headers being written, the openai backend the call into the SDK). Only chunks
with non-empty content count: role-only openers, empty keep-alive deltas and the final usage
chunk are not tokens.
"""

from __future__ import annotations

import time

from .base import Reply

__all__ = ["ChunkClock"]


class ChunkClock:
    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self._times: list[float] = []

    def content(self, piece: object) -> None:
        """Note a chunk's content piece; empty or non-text pieces are not tokens."""
        if isinstance(piece, str) and piece:
            self._times.append(time.perf_counter())

    def stamp(self, reply: Reply, start: float | None = None) -> Reply:
        """``reply`` with its stream timing; ``start`` overrides the clock's own (known late)."""
        origin = self.start if start is None else start
        reply.streamed = True
        reply.content_chunks = len(self._times)
        reply.ttft_s = round(self._times[0] - origin, 6) if self._times else None
        reply.itl_s = [round(b - a, 6) for a, b in zip(self._times, self._times[1:])]
        return reply
