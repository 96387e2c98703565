"""The run's shared records (``engine/shared_state``): atomic read-change-write across processes.

Each test runs on every store through the ``stores`` fixture, so a new store (a coordination
server) passes the same tests as the default files."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_llmeval.engine.shared_state import FileState, SharedState

StoreFactory = Callable[[], SharedState]


@pytest.fixture(params=["file"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes stores that all see the same records, as the processes of one run do."""
    made: list[SharedState] = []

    def make() -> SharedState:
        made.append(FileState(tmp_path))
        return made[-1]

    yield make
    for store in made:
        store.close()


def _increment(raw: bytes | None, now: float) -> tuple[bytes, int]:
    count = int(raw or b"0") + 1
    return str(count).encode(), count


def _count_in_child(folder: str, times: int) -> None:
    store = FileState(Path(folder))
    for _ in range(times):
        store.update("counter", _increment)
    store.close()


def test_a_record_starts_empty_and_keeps_what_was_written(stores):
    store = stores()
    assert store.read("r") is None
    assert store.update("r", lambda raw, now: (json.dumps({"seen": raw}).encode(), "done")) == "done"
    assert json.loads(store.read("r") or b"") == {"seen": None}
    store.update("r", lambda raw, now: (b"short", None))  # a shorter record leaves no tail behind
    assert stores().read("r") == b"short"


def test_updates_from_many_stores_and_threads_are_never_lost(stores):
    import threading

    handles = [stores() for _ in range(4)]
    threads = [threading.Thread(target=lambda s=s: [s.update("counter", _increment) for _ in range(200)])
               for s in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert handles[0].read("counter") == b"800"


def test_updates_from_other_processes_are_never_lost(tmp_path):
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_count_in_child, args=(str(tmp_path), 150)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert FileState(tmp_path).read("counter") == b"450"
