"""Which sample an item is: computed once at collection, kept on the item's stash, read by every hook.

Two kinds of item are samples: a suite file's item (``kind="suite"``: it builds and queues its
own request) and a Python test parametrised by ``@llmeval.dataset`` (``kind="test"``). Anything
else in the run is an ordinary test and has no identity. Sharding, prefetching, the start and
result records of a sample all ask ``sample_of(item)`` rather than re-deriving it from node ids,
markers or attributes.

The controller under xdist never collects items, only node ids; ``is_suite_nodeid`` and
``model_of_nodeid`` are the one place that reads a node id for what it says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pytest

__all__ = ["EXAMPLE_MARK", "SAMPLE", "SUITE_MARK", "SUITE_SUFFIX", "SampleIdentity", "identify_test", "is_suite_nodeid",
           "model_of_nodeid", "sample_of"]

SUITE_SUFFIX = ".llmeval.yaml"
SUITE_MARK = SUITE_SUFFIX + "::"
EXAMPLE_MARK = "llm_example"  # on each drawn example of ``@llmeval.examples``: ``meta=`` its sample


@dataclass(frozen=True, slots=True)
class SampleIdentity:
    """(suite, subject, id): the sample, the same for every model that answers it."""

    suite: str
    subject: str
    id: str
    kind: Literal["suite", "test"]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.suite, self.subject, self.id


SAMPLE = pytest.StashKey[SampleIdentity]()


def sample_of(item: pytest.Item) -> SampleIdentity | None:
    """The item's sample, or None for an ordinary test."""
    return item.stash.get(SAMPLE, None)


def identify_test(item: pytest.Item) -> None:
    """At collection (``pytest_itemcollected``): a dataset-parametrised test's identity, from the
    ``sample`` parameter's ``meta``, or a drawn example's, from its ``llm_example`` mark. Suite
    items set theirs when they are made."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or SAMPLE in item.stash:
        return
    meta: Any = getattr(callspec.params.get("sample"), "meta", None)
    if meta is None:
        mark = item.get_closest_marker(EXAMPLE_MARK)
        meta = mark.kwargs.get("meta") if mark is not None else None
    if isinstance(meta, dict) and {"suite", "subject", "id"} <= set(meta):
        item.stash[SAMPLE] = SampleIdentity(str(meta["suite"]), str(meta["subject"]), str(meta["id"]), "test")


def is_suite_nodeid(nodeid: str) -> bool:
    return SUITE_MARK in nodeid


def model_of_nodeid(nodeid: str, models: Iterable[str]) -> str | None:
    """The model a sample's node id names (``...[model]`` for suites, ``...-model]`` for tests)."""
    return next((model for model in models if nodeid.endswith((f"[{model}]", f"-{model}]"))), None)
