"""Property-based model tests: ``@llmeval.examples(a=st.integers(0, 999), n=200)`` draws ``n``
examples with hypothesis, and each becomes one sample of the test's subject, exactly as a row of
``@llmeval.dataset`` does (``python_tests``): a parametrised item, journaled, counted towards the
threshold, compared with the baseline.

The draws must be the same list in every process that collects them (each xdist worker collects
on its own, and a shard or a rerun must find the same samples), so they are seeded from the test's
node id (crc32), never from collection order, and hypothesis's database is off. Ids come from the
values, not from the draw order, so a baseline pairs samples by value.

``--llm-shrink`` shrinks one failing example per test and model with hypothesis's own shrinker:
the example's choice sequence is put in an in-memory example database, and a ``@given`` version
of the test runs hypothesis's reuse and shrink phases on it, through the same ``llm`` engine
queue (so every call is journaled and a rerun replays the shrink without requests).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ConfigError, one_line
from .identity import EXAMPLE_MARK

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["EXAMPLES_MARK", "examples", "parametrize_examples", "shrink_failure"]

EXAMPLES_MARK = "llm_examples"
_READABLE = re.compile(r"[\w.,=+\-']*", re.ASCII)
_READABLE_MAX = 40  # longer ids become a hash of the values


def examples(*, n: int | None = None, **strategies: Any) -> pytest.MarkDecorator:
    """Parametrise the test's arguments over ``n`` examples drawn from hypothesis strategies."""
    return pytest.mark.llm_examples(n=n, **strategies)


@dataclass(frozen=True, slots=True)
class Drawn:
    """One drawn example: its values, how hypothesis drew them (for shrinking), its sample id."""

    values: dict[str, Any]
    choices: str  # hypothesis's choice sequence, ``choices_to_bytes`` as hex
    id: str
    shown: dict[str, str]  # name -> repr, for reports


def canonical(value: Any) -> str:
    """A repr that is the same in every process: set and dict items sorted (a set of strings
    iterates in an order that depends on each process's hash seed)."""
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(f"{canonical(k)}: {canonical(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}({{{', '.join(sorted(canonical(v) for v in value))}}})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(canonical(v) for v in value) + ("," if isinstance(value, tuple) and len(value) == 1 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def example_id(shown: dict[str, str]) -> str:
    """``a=12,b=7`` while short and plain; else ``h-`` and a hash of the canonical values."""
    text = ",".join(f"{k}={v}" for k, v in shown.items())
    if len(text) <= _READABLE_MAX and _READABLE.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _strategies(mark: pytest.Mark, function: Callable[..., Any], where: str) -> tuple[int, dict[str, Any]]:
    """The mark's ``n`` and strategies, checked: one line naming the test and the argument."""
    from hypothesis.strategies import SearchStrategy

    kwargs = dict(mark.kwargs)
    n = kwargs.pop("n", None)
    if mark.args:
        raise ConfigError("llmeval.examples takes keyword arguments: name=strategy, ..., n=COUNT", where=where)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"llmeval.examples needs n=, a positive number of examples, got {n!r}", where=where)
    if not kwargs:
        raise ConfigError("llmeval.examples needs at least one argument=strategy", where=where)
    parameters = inspect.signature(function).parameters
    for name, strategy in kwargs.items():
        if name not in parameters:
            raise ConfigError(f"llmeval.examples argument {name!r} is not a parameter of the test "
                              f"(it has {', '.join(parameters)})", where=where)
        if not isinstance(strategy, SearchStrategy):
            raise ConfigError(f"llmeval.examples argument {name!r}: expected a hypothesis strategy, "
                              f"got {type(strategy).__name__} {strategy!r:.60}", where=where)
        if strategy.is_empty:
            raise ConfigError(f"llmeval.examples argument {name!r}: the strategy {strategy!r:.60} "
                              "cannot produce any value", where=where)
    return n, {name: kwargs[name] for name in parameters if name in kwargs}


def _settings(database: Any = None, **extra: Any) -> Any:
    from hypothesis import HealthCheck, Verbosity, settings

    return settings(database=database, deadline=None, suppress_health_check=list(HealthCheck), print_blob=False,
                    verbosity=Verbosity.quiet, report_multiple_bugs=False, **extra)


class _NoConstants:
    """An empty pool of local constants (see ``_own_constants_only``)."""

    def set_for_type(self, choice_type: str) -> tuple[()]:
        return ()

    def __len__(self) -> int:
        return 0


@contextmanager
def _own_constants_only() -> Iterator[None]:
    """hypothesis mixes into its draws constants read from the source of every local module loaded
    in the process (``providers._get_local_constants``), so one seed draws differently in an xdist
    worker, in a process that imported one more test file, or after another test's draws filled its
    cache. The examples must not depend on that: while they are drawn (or shrunk) the local pool is
    empty and the cache is this call's own."""
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):  # a hypothesis before local constants
        yield
        return
    saved = providers._get_local_constants, providers.CONSTANTS_CACHE
    providers._get_local_constants = _NoConstants  # type: ignore[assignment]
    providers.CONSTANTS_CACHE = type(saved[1])(1024)  # hypothesis's own LRUCache, empty
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = saved


def draw(strategies: dict[str, Any], n: int, seed: int) -> list[Drawn]:
    """Up to ``n`` distinct examples, in hypothesis's generation order, the same for a seed in every
    process. Examples equal in value are one sample; hypothesis is let draw up to ``2n`` to find
    ``n`` distinct ones, so only a small space (or a strategy that repeats itself) gives fewer."""
    from hypothesis import Phase, given
    from hypothesis import seed as seeded
    from hypothesis import strategies as st
    from hypothesis.control import current_build_context
    from hypothesis.database import choices_to_bytes

    drawn: dict[str, Drawn] = {}

    def collect(values: dict[str, Any]) -> None:
        shown = {name: canonical(values[name]) for name in strategies}
        id_ = example_id(shown)
        if id_ not in drawn and len(drawn) < n:
            choices = choices_to_bytes(current_build_context().data.choices).hex()
            drawn[id_] = Drawn(dict(values), choices, id_, shown)

    generate = _settings(max_examples=2 * n, phases=[Phase.generate])
    test = seeded(seed)(generate(given(st.fixed_dictionaries(strategies))(collect)))
    with _own_constants_only():
        test()
    return list(drawn.values())


def seed_of(nodeid: str) -> int:
    """The test's seed: its node id (path::name, from the rootdir), the same in every process."""
    return zlib.crc32(nodeid.encode())


def parametrize_examples(metafunc: pytest.Metafunc, mark: pytest.Mark) -> None:
    """Called from ``python_tests.parametrize``: one parameter set per drawn example, each marked
    with its sample's identity (``identity.identify_test`` and ``python_tests.sample_skeleton``
    read it)."""
    definition = metafunc.definition
    where = f"{definition.path.name}::{definition.name}"
    try:
        n, strategies = _strategies(mark, metafunc.function, where)
        try:
            drawn = draw(strategies, n, seed_of(definition.nodeid))
        except Exception as exc:  # hypothesis: a strategy that fails or filters everything out
            raise ConfigError(f"llmeval.examples could not draw examples: {one_line(exc)}", where=where) from None
    except ConfigError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    suite, subject = definition.path.stem, definition.name
    drawn_ids = [d.id for d in drawn]
    version = hashlib.sha256(repr((inspect.getsource(metafunc.function), drawn_ids)).encode()).hexdigest()[:8]
    params = []
    for d in drawn:
        meta = {"suite": suite, "subject": subject, "id": d.id, "version": version, "target": None,
                "example": d.shown, "choices": d.choices}
        params.append(pytest.param(*(d.values[name] for name in strategies), id=d.id,
                                   marks=getattr(pytest.mark, EXAMPLE_MARK)(meta=meta)))
    metafunc.parametrize(list(strategies), params)


@dataclass
class _Shrink:
    """What one shrink saw: each example's outcome by id (so hypothesis's replays of an example
    cost no call), the last failing example (hypothesis replays the minimal one last)."""

    budget: int
    calls: int = 0
    outcomes: dict[str, bool] = field(default_factory=dict)
    minimal: dict[str, str] | None = None
    stopped: str | None = None


def _claim(runtime: Runtime, name: str) -> bool:
    """The first failing example of a test and model to ask shrinks; the others do not (a shrink
    costs up to ``--llm-shrink-calls`` calls). Run-wide, through the shared state."""
    def change(raw: bytes | None, now: float) -> tuple[bytes, bool]:
        return b"1", raw is None

    return bool(runtime.shared.state().update(f"shrink:{name}", change))


def shrink_failure(item: pytest.Item, meta: dict[str, Any], runtime: Runtime, client: Any) -> dict[str, Any] | None:
    """Shrink this failing example (see the module docstring); None when another example of the
    test and model shrinks. ``client`` is a fresh ``llm`` for the shrink's calls."""
    if not _claim(runtime, json.dumps([client.name, meta["suite"], meta["subject"]])):
        return None
    from hypothesis import Phase, given
    from hypothesis import strategies as st
    from hypothesis.database import InMemoryExampleDatabase

    mark = item.get_closest_marker(EXAMPLES_MARK)
    assert mark is not None
    strategies = {k: v for k, v in mark.kwargs.items() if k != "n"}
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    fixtures = {k: (client if k == "llm" else v) for k, v in funcargs.items()
                if k in inspect.signature(item.obj).parameters and k not in strategies}  # type: ignore[attr-defined]
    state = _Shrink(budget=runtime.options.shrink)

    def body(values: dict[str, Any]) -> None:
        shown = {name: canonical(values[name]) for name in strategies}
        if _fails(state, example_id(shown), lambda: item.obj(**fixtures, **values)):  # type: ignore[attr-defined]
            state.minimal = shown
            raise AssertionError(f"fails: {shown}")

    database, key = InMemoryExampleDatabase(), b"llmeval-shrink"
    # the secondary corpus: an example in the primary one is taken as already shrunk (a fast path
    # that ends the run after replaying it); one in the secondary is replayed, then shrunk
    database.save(key + b".secondary", bytes.fromhex(meta["choices"]))
    runner = _settings(database, phases=[Phase.reuse, Phase.shrink], max_examples=state.budget)(
        given(st.fixed_dictionaries(strategies))(body))
    runner._hypothesis_internal_database_key = key  # where hypothesis's reuse phase looks
    # what @seed sets (it also turns the database off, so is not used): the shrinker's random is
    # the same every run, and a rerun asks the journal for the same calls
    runner._hypothesis_internal_use_seed = 0
    try:
        with _own_constants_only():
            runner()
    except AssertionError:
        pass
    except Exception as exc:  # hypothesis's own complaint (a flaky failure): say it, keep the run
        state.stopped = state.stopped or one_line(exc)
    return {"from": meta["id"], "example": state.minimal or meta["example"], "calls": state.calls,
            **({"stopped": state.stopped} if state.stopped else {}),
            **({"limit": True} if state.calls >= state.budget else {})}


def _fails(state: _Shrink, id_: str, call: Callable[[], None]) -> bool:
    """Whether the example fails; each example asked once, none asked past the budget (they count
    as passing, so the shrinker ends on the smallest failure found so far), none after an error."""
    if id_ in state.outcomes:
        return state.outcomes[id_]
    if state.calls >= state.budget or state.stopped:
        return False
    state.calls += 1
    try:
        call()
        failed = False
    except AssertionError:
        failed = True
    except Exception as exc:  # a backend error: the shrink cannot go on
        state.stopped = f"stopped: {one_line(exc)}"
        return False
    state.outcomes[id_] = failed
    return failed
