"""The run's shared records (``engine/shared_state``): atomic read-change-write across processes.

Each test runs on every store through the ``stores`` fixture, so the coordination server's store
(``engine/redis_state``, on a real ``redis-server``) passes the same tests as the default files."""

from __future__ import annotations

import json
import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmeval.engine.redis_state import RedisState
from pytest_llmeval.engine.shared_state import FileState, SharedState

Where = tuple[str, str, str]  # (kind, folder or URL, run key): enough for another process to open it


def _open(where: Where) -> SharedState:
    kind, place, run_key = where
    return FileState(Path(place)) if kind == "file" else RedisState(place, run_key)


class StoreFactory:
    """Makes stores that all see the same records, as the processes of one run do."""

    def __init__(self, where: Where) -> None:
        self.where, self.made = where, list[SharedState]()

    def __call__(self) -> SharedState:
        self.made.append(_open(self.where))
        return self.made[-1]


@pytest.fixture(params=["file", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "file":
        factory = StoreFactory(("file", str(tmp_path), ""))
    else:  # a run key of its own: no other test's records
        factory = StoreFactory(("redis", request.getfixturevalue("redis_server").url, uuid.uuid4().hex))
    yield factory
    for store in factory.made:
        store.close()


def _increment(raw: bytes | None, now: float) -> tuple[bytes, int]:
    count = int(raw or b"0") + 1
    return str(count).encode(), count


def _count_in_child(where: Where, times: int) -> None:
    store = _open(where)
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


def test_updates_from_other_processes_are_never_lost(stores):
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_count_in_child, args=(stores.where, 150)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert stores().read("counter") == b"450"
