"""``--llm-shard I/N``: which samples this CI job runs, the same on every worker and every job.

Each subject's samples are ordered by a CRC-32 of their identity (stable across processes and
machines, unlike ``hash()``) and dealt round-robin, starting at an offset taken from the
subject's own CRC-32. So every job gets a near-equal share of every subject (they differ by at
most one sample per subject), which keeps per-subject wall time and rate-limit use even, and the
samples of all models of one sample stay together in one job, so comparisons stay paired.

Items that are not samples (ordinary tests in the same run) are dealt by the CRC-32 of their
node id. Sharding runs after ``-k``/``-m`` deselection, so every job splits the same selection.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import pytest

from .identity import sample_of

__all__ = ["apply_shard", "assign", "sample_identity"]


def _crc(*parts: str) -> int:
    return zlib.crc32("\0".join(parts).encode("utf-8"))


def assign(suite: str, subject: str, ids: Iterable[str], total: int) -> dict[str, int]:
    """The 0-based shard of each of one subject's sample ids."""
    order = sorted(set(ids), key=lambda i: (_crc(suite, subject, i), i))
    offset = _crc(suite, subject) % total
    return {sample_id: (rank + offset) % total for rank, sample_id in enumerate(order)}


def sample_identity(item: pytest.Item) -> tuple[str, str, str] | None:
    """(suite, subject, id) of a suite item or a dataset-parametrised test; None for other tests."""
    identity = sample_of(item)
    return identity.key if identity is not None else None


def split(items: Sequence[pytest.Item], index: int, total: int) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected) for shard ``index`` (1-based) of ``total``."""
    identities = [sample_identity(item) for item in items]
    by_subject: dict[tuple[str, str], list[str]] = {}
    for identity in identities:
        if identity is not None:
            by_subject.setdefault(identity[:2], []).append(identity[2])
    shards = {key: assign(key[0], key[1], ids, total) for key, ids in by_subject.items()}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item, identity in zip(items, identities):
        shard = (shards[identity[:2]][identity[2]] if identity is not None else _crc(item.nodeid) % total)
        (kept if shard == index - 1 else dropped).append(item)
    return kept, dropped


def apply_shard(config: pytest.Config, items: list[pytest.Item], index: int, total: int) -> None:
    kept, dropped = split(items, index, total)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
