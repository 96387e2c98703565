"""The journal opens, or is set aside and started afresh, never lost: the store's own decisions,
on real SQLite files (the end-to-end cases are in test_corpus_config and test_corpus_process)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import Reply
from pytest_llmeval.engine.store import ResponseStore

OLD_SCHEMA = ("CREATE TABLE replies (key TEXT PRIMARY KEY, model TEXT NOT NULL, endpoint TEXT NOT NULL, "
              "reply TEXT NOT NULL, created REAL NOT NULL)")


def _pragma(path: Path, name: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"PRAGMA {name}").fetchone()[0])


def test_a_journal_from_before_the_stamp_is_adopted_with_its_replies(tmp_path):
    path = tmp_path / "replies.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO replies VALUES ('k', 'm', 'openai', '{\"text\": \"kept\"}', 0)")
        db.commit()
    store = ResponseStore(path)
    assert store.set_aside is None and store.get("k") == Reply(text="kept")
    store.close()
    assert _pragma(path, "application_id") == 0x4C4C4D45 and _pragma(path, "user_version") == 1


def test_a_journal_of_a_later_schema_is_set_aside(tmp_path):
    path = tmp_path / "replies.sqlite3"
    ResponseStore(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 7")
    store = ResponseStore(path)
    assert store.set_aside and "foreign (journal schema 7, this release writes 1)" in store.set_aside
    store.close()
    assert len(list(tmp_path.glob("replies.sqlite3.foreign-*[0-9]"))) == 1  # (its WAL files beside it)


def test_set_aside_moves_the_wal_files_with_the_database(tmp_path):
    path = tmp_path / "replies.sqlite3"
    path.write_bytes(b"not a database " * 100)
    Path(f"{path}-wal").write_bytes(b"stale wal")
    store = ResponseStore(path)
    store.put("k", "m", "openai", Reply(text="new"))
    assert store.get("k") == Reply(text="new")
    store.close()
    aside = next(tmp_path.glob("replies.sqlite3.corrupt-*[0-9]"))
    assert Path(f"{aside}-wal").read_bytes() == b"stale wal"


def test_a_journal_that_fails_mid_run_stops_recording_and_says_why(tmp_path):
    store = ResponseStore(tmp_path / "replies.sqlite3")
    store.put("a", "m", "openai", Reply(text="first"))
    store._db.execute("PRAGMA max_page_count = 1")  # as good as a full disk, from now on
    store.put("b", "m", "openai", Reply(text="x" * 100_000))
    assert store.failure is not None and "full" in store.failure
    store.put("c", "m", "openai", Reply(text="later"))  # no second error, no exception
    assert store.get("a") is None  # a failed journal is not read either: the rerun asks again
    store.close()


def test_a_row_this_release_cannot_read_is_asked_again(tmp_path):
    store = ResponseStore(tmp_path / "replies.sqlite3")
    store._db.execute("INSERT INTO replies VALUES ('k', 'm', 'e', '{\"unknown_field\": 1}', 0)")
    assert store.get("k") is None and store.failure is None
    store.close()


@pytest.mark.parametrize("name", ["folder", "under-a-file"])
def test_a_path_that_cannot_hold_a_journal_raises(tmp_path, name):
    (tmp_path / "file").write_text("x")
    path = tmp_path if name == "folder" else tmp_path / "file" / "replies.sqlite3"
    with pytest.raises((OSError, sqlite3.Error)):
        ResponseStore(path)
