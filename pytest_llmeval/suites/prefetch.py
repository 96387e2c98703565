"""Which items a process may ask answers for before they run.

Without xdist, the process runs every selected item, so all of them are queued at once, in run
order (the queue, not a window, keeps ``concurrency`` requests in flight: one slow retry does not
stall the rest). Under xdist a worker only knows its own items when whole subjects are scheduled
together (``scheduler``); it then queues the subject of the item it was handed. Under any other
``--dist`` it asks for each item as it runs, so no sample is ever requested twice.
"""

from __future__ import annotations

from typing import Protocol

import pytest

from ..identity import sample_of
from .scheduler import subject_scope

__all__ = ["PrefetchState", "Prefetchable", "items_to_queue"]


class Prefetchable(Protocol):
    nodeid: str

    def queue_request(self) -> None: ...


class PrefetchState:
    """Per process: the scopes already queued, and each scope's items (indexed once)."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.by_scope: dict[str, list[Prefetchable]] | None = None


def items_to_queue(session: pytest.Session, item: pytest.Item, *, xdist: bool, grouped: bool,
                   state: PrefetchState) -> list[Prefetchable]:
    """The not yet queued items to queue when ``item`` is about to run."""
    if xdist and not grouped:
        return [item] if _queues(item) else []  # type: ignore[list-item]
    key = subject_scope(item.nodeid) if xdist else ""
    if key in state.done:
        return []
    state.done.add(key)
    if not xdist:
        return [i for i in session.items if _queues(i)]  # type: ignore[misc]
    if state.by_scope is None:
        state.by_scope = {}
        for i in session.items:
            if _queues(i):
                state.by_scope.setdefault(subject_scope(i.nodeid), []).append(i)  # type: ignore[arg-type]
    return state.by_scope.get(key, [])


def _queues(item: pytest.Item) -> bool:
    """A suite item builds its own request; a Python test asks while it runs."""
    identity = sample_of(item)
    return identity is not None and identity.kind == "suite"
