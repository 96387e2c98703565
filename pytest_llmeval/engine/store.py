"""The response cache and journal: every reply is written the moment it arrives, so a run that is
killed (Ctrl-C, ``kill -9``, a crashed worker) loses nothing it was sent, and the rerun asks the
endpoint only for what is missing.

SQLite in WAL mode: several xdist workers (and several runs) write to one file at once, a reader
never blocks a writer, and a committed row survives the process being killed. One connection per
process, behind a lock, because the engine's threads share it.

The key is a hash of everything that changes the answer (backend, endpoint, model, the model
file's identity, backend options, the request itself). Settings never hold a secret (see
``backends.base``), so neither the key nor the stored row can contain an API key (and replies
are scrubbed of the run's keys before they are stored, ``engine.dispatch``).

The journal opens or says why. A file it cannot use is set aside, never deleted: one that is
not SQLite or is damaged ("corrupt"), or a database that is not a journal of this schema
("foreign": another program's, or another release's), is renamed with its WAL files to
``<name>.<corrupt|foreign>-<time>`` and a fresh journal takes its place; ``set_aside`` holds the
line that says so. A journal that fails while the run goes on (a full disk) stops recording and
keeps the first reason in ``failure``, which the controller turns into a failure of the run:
a run whose answers were not journaled promised a resume it cannot give.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..backends.base import BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply
from ..errors import reason

__all__ = ["ResponseStore", "clear_store", "request_key"]
_APPLICATION_ID = 0x4C4C4D45  # "LLME" in the file header: this file is a pytest-llmeval journal
_USER_VERSION = 1  # the journal's schema version
_COLUMNS = ("key", "model", "endpoint", "reply", "created")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    reply TEXT NOT NULL,
    created REAL NOT NULL
)
"""
_KEY_VERSION = 1


def request_key(settings: BackendSettings, request: GenerateRequest | LoglikelihoodRequest) -> str:
    """The cache key of one request: identical inputs, identical key, in every process."""
    identity: dict[str, Any] = {
        "v": _KEY_VERSION,
        "backend": settings.backend, "base_url": settings.base_url, "model": settings.model,
        "model_file": _file_identity(settings.model_path), "options": settings.extra,
        "kind": type(request).__name__, "request": _keyed(request),
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _keyed(request: GenerateRequest | LoglikelihoodRequest) -> dict[str, Any]:
    """The request's fields; an unset ``seed`` is left out, so a request of one attempt keeps the key
    it had before attempts had seeds (journals written then still resume)."""
    fields = asdict(request)
    if fields.get("seed", 0) is None:
        del fields["seed"]
    return fields


def _file_identity(path: str | None) -> list[Any] | None:
    """A local model file is known by path, size and modification time: replacing the weights at
    the same path must not serve the old model's answers."""
    if not path:
        return None
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        return [str(p)]
    return [str(p.resolve()), st.st_size, int(st.st_mtime)]


class _Unusable(Exception):
    """The file is not a journal this release can use; ``kind`` is "corrupt" or "foreign".
    ``db`` is still open: SQLite deletes a database's WAL files when it closes it, so the file
    is set aside first, and the WAL files go with it, whole."""

    def __init__(self, kind: str, reason: str, db: sqlite3.Connection | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.db = kind, reason, db


_HEADER = b"SQLite format 3\x00"


class ResponseStore:
    """Replies by request key. ``read`` False means refresh: ask again, but still record.

    Raises OSError or sqlite3.Error when the file cannot be opened or created at all.
    """

    def __init__(self, path: Path, *, read: bool = True) -> None:
        self.path, self.read = path, read
        self.set_aside: str | None = None
        self.failure: str | None = None
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _connect(path)
        except _Unusable as exc:
            aside = _set_aside(path, exc.kind)
            if exc.db is not None:
                exc.db.close()
            self.set_aside = f"the journal {path} is {exc.kind} ({exc.reason}): set aside as {aside.name}, " \
                             "and a fresh one was started"
            self._db = _connect(path)

    def get(self, key: str) -> Reply | None:
        if not self.read or self.failure is not None:
            return None
        try:
            with self._lock:
                row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            if data.get("logprobs") is not None:
                data["logprobs"] = tuple(data["logprobs"])
            return Reply(**data)
        except (ValueError, TypeError, AttributeError):  # a row this release cannot read: ask again
            return None

    def put(self, key: str, model: str, endpoint: str, reply: Reply) -> None:
        if self.failure is not None:
            return
        text = json.dumps(asdict(reply), ensure_ascii=False, default=str)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO replies (key, model, endpoint, reply, created) VALUES (?, ?, ?, ?, ?)",
                    (key, model, endpoint, text, time.time()))
        except sqlite3.Error as exc:
            self._failed(exc)

    def _failed(self, exc: sqlite3.Error) -> None:
        if self.failure is None:
            self.failure = reason(exc)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to a usable journal (created when absent); _Unusable for a file to set aside."""
    if _not_sqlite(path):  # known before SQLite opens it (and would drop its WAL files on closing)
        raise _Unusable("corrupt", "file is not a database")
    db = sqlite3.connect(str(path), timeout=60.0, check_same_thread=False, isolation_level=None)
    try:
        for attempt in range(50):  # workers opening one new file at once: switching it to WAL can
            try:                   # answer "database is locked" without waiting for the timeout
                _adopt(db)  # first: a file that is not ours is set aside exactly as it was found
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process kills
                return db
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05 + 0.01 * attempt)
    except sqlite3.OperationalError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:  # "database disk image is malformed"
        raise _Unusable("corrupt", str(exc), db) from None
    except _Unusable as exc:
        exc.db = db
        raise
    raise AssertionError("unreachable")


def _not_sqlite(path: Path) -> bool:
    """A file with bytes that do not start as every SQLite database does."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_HEADER))
    except (FileNotFoundError, IsADirectoryError):
        return False
    return bool(head) and head != _HEADER


def _adopt(db: sqlite3.Connection) -> None:
    """Check the file is a journal of this schema, or make it one when it is new (or a journal
    from before journals were stamped); _Unusable when it is someone else's database."""
    app = int(db.execute("PRAGMA application_id").fetchone()[0])
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    columns = tuple(row[1] for row in db.execute("PRAGMA table_info(replies)"))
    if app not in (0, _APPLICATION_ID) or (app == 0 and not tables <= {"replies"}):
        raise _Unusable("foreign", f"a database of another program, with tables {', '.join(sorted(tables)) or 'none'}")
    if app == _APPLICATION_ID and version != _USER_VERSION:
        raise _Unusable("foreign", f"journal schema {version}, this release writes {_USER_VERSION}")
    if "replies" in tables and columns != _COLUMNS:
        raise _Unusable("foreign", f"table replies has columns {', '.join(columns)}")
    if app == 0:
        db.execute(_SCHEMA)
        db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {_USER_VERSION}")


def _set_aside(path: Path, kind: str) -> Path:
    """Rename the file (and its WAL files) out of the way; never delete what may be someone's."""
    aside = path.with_name(f"{path.name}.{kind}-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        try:
            Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
        except FileNotFoundError:  # no WAL file, or another process set it aside first
            pass
    return aside


def clear_store(path: Path) -> None:
    """Delete the store and its WAL files (``--llm-cache=clear``)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
