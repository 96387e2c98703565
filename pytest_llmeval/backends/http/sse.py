"""Server-sent events, decoded from the lines of a streamed HTTP body.

The standard (html.spec.whatwg.org, "server-sent events") in the part LLM servers use: ``data:``
lines accumulate until a blank line ends the event, ``event:`` names it, lines starting with ``:``
are comments (TGI's keep-alives), other fields are ignored. An event still pending when the body
ends is delivered rather than dropped: a server that omits the last blank line loses nothing, and
a body cut mid-event shows up as a chunk that is not JSON, which the backend reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "iter_events", "json_chunks"]


@dataclass(frozen=True, slots=True)
class Event:
    data: str
    event: str = "message"


def iter_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events in order; ``lines`` are the body's lines without their line breaks."""
    data: list[str] = []
    name = ""
    for line in lines:
        if not line:
            if data:
                yield Event("\n".join(data), name or "message")
            data, name = [], ""
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if data:
        yield Event("\n".join(data), name or "message")


def json_chunks(data: str) -> list[Any]:
    """The JSON value(s) of one event's data. Some servers end events with a single line break,
    so consecutive ``data:`` lines arrive as one event: each line is then its own chunk.
    Raises ValueError when the data is not JSON either way."""
    try:
        return [json.loads(data)]
    except ValueError:
        if "\n" not in data:
            raise
    return [json.loads(line) for line in data.split("\n") if line.strip()]
