"""The response cache and journal: every reply is written the moment it arrives, so a run that is
killed (Ctrl-C, ``kill -9``, a crashed worker) loses nothing it was sent, and the rerun asks the
endpoint only for what is missing.

SQLite in WAL mode: several xdist workers (and several runs) write to one file at once, a reader
never blocks a writer, and a committed row survives the process being killed. One connection per
process, behind a lock, because the engine's threads share it.

The key is a hash of everything that changes the answer (backend, endpoint, model, the model
file's identity, backend options, the request itself). Settings never hold a secret (see
``backends.base``), so neither the key nor the stored row can contain an API key.
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

__all__ = ["ResponseStore", "clear_store", "request_key"]
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
        "kind": type(request).__name__, "request": asdict(request),
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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


class ResponseStore:
    """Replies by request key. ``read`` False means refresh: ask again, but still record."""

    def __init__(self, path: Path, *, read: bool = True) -> None:
        self.path, self.read = path, read
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=60.0, check_same_thread=False, isolation_level=None)
        for attempt in range(50):  # workers opening one new file at once: switching it to WAL can
            try:                   # answer "database is locked" without waiting for the timeout
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process kills
                self._db.execute(_SCHEMA)
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.05 + 0.01 * attempt)

    def get(self, key: str) -> Reply | None:
        if not self.read:
            return None
        with self._lock:
            row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        if data.get("logprobs") is not None:
            data["logprobs"] = tuple(data["logprobs"])
        return Reply(**data)

    def put(self, key: str, model: str, endpoint: str, reply: Reply) -> None:
        text = json.dumps(asdict(reply), ensure_ascii=False, default=str)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO replies (key, model, endpoint, reply, created) VALUES (?, ?, ?, ?, ?)",
                (key, model, endpoint, text, time.time()))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def clear_store(path: Path) -> None:
    """Delete the store and its WAL files (``--llm-cache=clear``)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
