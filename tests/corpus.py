"""The bad-input corpus: each case is a small project a tired user could have written (files),
a command line, and what must come of it: the exit code, the one line that names the problem,
and that nothing was lost.

"Nothing lost" means, for a run refused before it starts, that every file of the project is
still there, byte for byte (a bad option never eats a journal, a baseline or a report); for a
run that went on, that every sample is in samples.jsonl exactly once and every answer the server
gave is in the journal, so a rerun asks only for the rest (``Kept`` checks say which).

Cases run end to end through pytester, in this process (fast), against one scripted server per
test session (``corpus_server``): each case's questions name the case, so the server's per-prompt
fault scripts never mix two cases.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sqlite3
from contextlib import closing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Case", "answered", "asked", "journal_rows", "qa_files", "run_case", "samples_in", "snapshot", "unwritable_folder"]

Files = dict[str, str | bytes]
Kept = Callable[[pytest.Pytester, "Case", pytest.RunResult], None]


@dataclass(frozen=True)
class Case:
    id: str
    files: Files
    args: Sequence[str]
    ret: int
    line: str  # fnmatch pattern one output line must match
    kept: Kept | None = None  # what "nothing lost" means here; default: every file unchanged
    faults: dict[str, list[str]] = field(default_factory=dict)  # prompt -> the server's script
    replies: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    server: bool = True  # pass the server's URL and a model name

    def __repr__(self) -> str:
        return self.id


def qa_files(case: str, rows: int = 3, *, extra: str = "", answer: str = "ok", name: str = "qa") -> Files:
    """A small exact-match suite whose questions name the case (``<case> question <i>``)."""
    lines = "".join(json.dumps({"id": f"s{i}", "question": f"{case} question {i}", "answer": answer}) + "\n"
                    for i in range(rows))
    suite = (f"name: {name}\ntask: exact_match\ndata: {{format: jsonl, path: data/{name}.jsonl}}\n"
             f"prompt: '{{question}}'\nthreshold: 0.5\n{extra}")
    return {f"data/{name}.jsonl": lines, f"{name}.llmeval.yaml": suite}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` but pytest's own cache, by path, as a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".pytest_cache" not in p.parts}


def write_files(root: Path, files: Files) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_case(pytester: pytest.Pytester, case: Case, server: Any, *extra: str,
             monkeypatch: pytest.MonkeyPatch | None = None) -> pytest.RunResult:
    """Write the case, run it as a user would, and check the exit code and the one line; then
    what "nothing lost" means for it. Returns the result for checks of its own."""
    write_files(pytester.path, case.files)
    for prompt, script in case.faults.items():  # a fresh script: a case may run twice in a session
        server.faults[prompt] = list(script)
        server._attempts.pop(prompt, None)
    server.replies.update(case.replies)
    if monkeypatch is not None:
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
    before = snapshot(pytester.path)
    args = [*(("--llm-model=m", f"--llm-base-url={server.base_url}") if case.server else ()), *case.args, *extra]
    result = pytester.runpytest(*args)
    output = result.outlines + result.errlines
    text = "\n".join(output)
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    assert any(fnmatch.fnmatchcase(line, case.line) for line in output), f"no line matches {case.line!r}:\n{text}"
    assert result.ret == case.ret, f"exit {result.ret}, expected {case.ret}:\n{text}"
    if case.kept is not None:
        case.kept(pytester, case, result)
    else:  # refused before it began: every file as it was, and no new results anywhere
        after = snapshot(pytester.path)
        changed = sorted(k for k, v in before.items() if after.get(k) != v)
        assert not changed, f"files of the project changed: {changed}"
        assert not [k for k in after if k not in before and k.endswith(("results.json", "report.html"))]
    return result


def samples_in(folder: Path) -> list[dict[str, Any]]:
    path = folder / "samples.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def journal_rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:  # closed at once: an open reader keeps the WAL files
        return int(db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


def answered(n: int, *, errors: int = 0, journaled: int | None = None) -> Kept:
    """The run went on: all ``n`` samples are in samples.jsonl once each, ``errors`` of them as
    errors (never as misses), and the journal holds every answer the server gave."""

    def check(pytester: pytest.Pytester, case: Case, result: pytest.RunResult) -> None:
        samples = samples_in(pytester.path / "out")
        assert len(samples) == n and len({s["id"] for s in samples}) == n, samples
        assert sum(s["error"] is not None for s in samples) == errors
        assert all(s["correct"] is None for s in samples if s["error"] is not None)
        journal = pytester.path / "journal.sqlite3"
        if journaled is not None or journal.exists():
            assert journal_rows(journal) == (n - errors if journaled is None else journaled)

    return check


def asked(server: Any, prompt: str, since: float) -> int:
    """How many requests the server got for ``prompt`` since ``since`` (epoch s)."""
    return sum(1 for e in server.log if e.prompt == prompt and e.arrived >= since)


def lines_matching(result: pytest.RunResult, pattern: str) -> list[str]:
    return [line for line in result.outlines + result.errlines if fnmatch.fnmatchcase(line, pattern)]


def unwritable_folder(root: Path) -> Path:
    """A folder this process cannot write in: a read-only folder (as root, who may write anywhere
    else, one of the kernel's: /sys/kernel)."""
    if os.geteuid() != 0:
        folder = root / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        (Path("/sys/kernel") / "llmeval-probe").touch()
    except OSError:
        return Path("/sys/kernel")
    pytest.skip("no folder here refuses writes")
