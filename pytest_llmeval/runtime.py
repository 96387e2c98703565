"""Per-process state: the models of the run, their backends and request queues, created on first use.

Kept in ``config.stash`` (never a module global) so pytester runs in one process stay apart.
A backend is created lazily, so collecting, ``--co`` and ``-k`` never load a model or open a
socket, and an xdist worker loads only what its items need.

What every process of one run must share (the folder holding the rate-limit state, the deadline,
whether subjects are scheduled whole) is decided by the controller and handed to xdist workers
through ``workerinput``. The same folder tells workers which models took a worker down with them:
the controller writes a line there when one dies, and no process of the run asks that model again.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ConfigError, FatalBackendError
from .options import RunOptions

if TYPE_CHECKING:
    from .backends.base import Backend
    from .engine.dispatch import Dispatcher
    from .suites.executions import Executions
    from .suites.prefetch import PrefetchState
    from .engine.shared_state import SharedState
    from .engine.store import ResponseStore
    from .profiles import ModelSpec
    from .scrub import Scrubber

__all__ = ["RUNTIME", "WORKERINPUT_KEY", "Runtime", "SharedRun", "build_runtime"]

WORKERINPUT_KEY = "llmeval"


@dataclass
class SharedRun:
    """Decided once per run by the controller, the same in every worker."""

    deadline: float | None = None
    xdist: bool = False
    grouped: bool = True
    own_scheduler: bool = False  # the controller schedules whole subjects per worker (``scheduler``)
    run_dir: str | None = None
    owner: bool = True  # this process made run_dir and removes it
    coordination: str | None = None  # --llm-coordination: the records live on this Redis server
    coordination_key: str | None = None  # the run key of its run-wide records, the same in every process
    _state: SharedState | None = field(default=None, repr=False, compare=False)

    def folder(self) -> Path:
        if self.run_dir is None:
            self.run_dir = tempfile.mkdtemp(prefix="llmeval-run-")
        return Path(self.run_dir)

    def state(self) -> SharedState:
        """The records every process of the run shares (rate limits, and whatever else must be
        counted run-wide): see ``engine/shared_state``. Files in the run's folder by default, the
        coordination server's records with ``--llm-coordination`` (``engine/redis_state``)."""
        if self._state is None:
            if self.coordination is not None:
                from .engine.redis_state import RedisState, default_run_key

                self.coordination_key = self.coordination_key or default_run_key()  # decided by the controller
                self._state = RedisState(self.coordination, self.coordination_key)
            else:
                from .engine.shared_state import FileState

                self._state = FileState(self.folder())
        return self._state

    def check_coordination(self) -> None:
        """Reach the coordination server before any item runs: a run that cannot share its limits
        stops with one line rather than run unshared (ConfigError)."""
        if self.coordination is not None:
            from .engine.redis_state import RedisState

            state = self.state()
            assert isinstance(state, RedisState)
            try:
                state.check()
            except Exception:
                self._state = None
                state.close()
                raise

    def for_worker(self) -> dict[str, Any]:
        return {"deadline": self.deadline, "grouped": self.grouped, "run_dir": str(self.folder()),
                "coordination": self.coordination, "coordination_key": self.coordination_key}

    def cleanup(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        if self.owner and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def mark_crashed(self, model: str, line: str) -> None:
        """Record (once) that ``model``'s samples must not be asked again in this run, and why."""
        from .atomic import write_atomic

        path = self._crash_file(model)
        if not path.exists():
            write_atomic(path, line)

    def crashed(self, model: str) -> str | None:
        """Why ``model`` is not to be asked again in this run (None: it may)."""
        try:
            return self._crash_file(model).read_text(encoding="utf-8")
        except OSError:
            return None

    def _crash_file(self, model: str) -> Path:
        return self.folder() / f"crashed-{hashlib.sha256(model.encode()).hexdigest()[:16]}.txt"


@dataclass(eq=False)
class Runtime:
    options: RunOptions
    resolve_models: Callable[[], list[ModelSpec]]
    resolve_judge: Callable[[str], ModelSpec] = field(default=lambda name: _no_profiles(name))
    shared: SharedRun = field(default_factory=SharedRun)
    cache_path: Callable[[], Path | None] = lambda: None
    _models: list[ModelSpec] | None = None
    _classes: dict[str, type[Backend]] = field(default_factory=dict)
    _judges: dict[str, ModelSpec] = field(default_factory=dict)
    _baseline: Any = None  # results.baseline.Baseline, loaded once for --llm-judge-pairwise
    _baseline_loaded: bool = False
    _backends: dict[str, Backend] = field(default_factory=dict)
    _dispatchers: dict[str, Dispatcher] = field(default_factory=dict)
    _store: ResponseStore | None = None
    _store_opened: bool = False
    _prefetch: PrefetchState | None = None
    _executions: Executions | None = None
    _scrubber: Scrubber | None = None
    _fatal: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def models(self) -> list[ModelSpec]:
        """Resolved on first use, so a run that evaluates nothing never parses a profile."""
        if self._models is None:
            self._models = self.resolve_models()
        return self._models

    def model(self, name: str) -> ModelSpec:
        """A model under evaluation, or else a judge already resolved (``judge``)."""
        found = next((m for m in self.models if m.name == name), None)
        return found if found is not None else self._judges[name]

    def judge(self, name: str) -> ModelSpec:
        """The judge model named ``name`` (``scoring.judge``, ``--llm-judge``). A model under
        evaluation judges as itself (one engine, one loaded model); any other is resolved from its
        profile once. ``dispatcher(name)`` is then its request queue."""
        with self._lock:
            found = next((m for m in self.models if m.name == name), None)
            if found is not None:
                return found
            if name not in self._judges:
                self._judges[name] = self.resolve_judge(name)
                self._scrubber = None  # its key is one of the run's secrets from now on
            return self._judges[name]

    def backend(self, name: str) -> Backend:
        """The model's backend; after a fatal refusal, fail fast without another request."""
        if name in self._fatal:
            raise FatalBackendError(self._fatal[name])
        with self._lock:
            if name not in self._backends:
                self._backends[name] = self.backend_class(name)(self.model(name).settings)
            return self._backends[name]

    def backend_class(self, name: str) -> type[Backend]:
        """The model's backend class, resolved by the registry once: the backend is built from it,
        and the engine reads its ``local`` before then (to size its threads)."""
        with self._lock:
            if name not in self._classes:
                from .backends.registry import resolve_backend_class

                self._classes[name] = resolve_backend_class(self.model(name).settings.backend)
            return self._classes[name]

    def dispatcher(self, name: str) -> Dispatcher:
        """The model's request queue in this process (retries, rate limit, cache)."""
        with self._lock:
            if name not in self._dispatchers:
                self._dispatchers[name] = self._new_dispatcher(self.model(name))
            return self._dispatchers[name]

    def pairwise_baseline(self) -> Any:
        """The baseline whose replies ``--llm-judge-pairwise`` compares with (``Baseline``), read
        once per process; None when there is none or it cannot be read (the controller's
        comparison reports why, in one line)."""
        with self._lock:
            if not self._baseline_loaded:
                self._baseline_loaded = True
                path = self.options.baseline
                if path is not None and path.exists():
                    from .results.baseline import BaselineError, load_baseline

                    try:
                        self._baseline = load_baseline(path)
                    except BaselineError:
                        self._baseline = None
            return self._baseline

    def prefetch_state(self) -> PrefetchState:
        from .suites.prefetch import PrefetchState

        with self._lock:
            if self._prefetch is None:
                self._prefetch = PrefetchState()
            return self._prefetch

    def executions(self) -> Executions:
        """The pool that runs model-written code beside the requests (``suites/executions.py``).
        Sandboxed, unless ``--llm-unsafe-exec`` was given and this machine has no sandbox (the
        controller refused the run without the option, before any code ran)."""
        with self._lock:
            if self._executions is None:
                from .suites.executions import Executions

                self._executions = Executions(unsafe=self.options.unsafe_exec and _no_sandbox())
            return self._executions

    def store(self) -> ResponseStore | None:
        """The journal, opened on first use; ConfigError with the one line when it cannot be."""
        with self._lock:
            if not self._store_opened:
                path = self.cache_path() if self.options.cache != "off" else None
                if path is not None:
                    self._store = _open_store(path, read=self.options.cache != "refresh")
                self._store_opened = True
            return self._store

    def journal_failure(self) -> str | None:
        """Why the journal stopped recording during the run, if it did."""
        return self._store.failure if self._store is not None else None

    def scrubber(self) -> Scrubber:
        """The run's secrets (see ``scrub``), read once the models are known."""
        with self._lock:
            if self._scrubber is None:
                from .engine.redis_state import url_secrets
                from .scrub import Scrubber, secrets_of

                self._scrubber = Scrubber.of([*secrets_of([*self.models, *self._judges.values()]),
                                              *url_secrets(self.shared.coordination)])
            return self._scrubber

    def _new_dispatcher(self, spec: ModelSpec) -> Dispatcher:
        from .engine.dispatch import Dispatcher
        from .engine.ratelimit import SharedRateLimit, rate_record
        from .engine.retry import RetryPolicy

        limiter = None
        if spec.rate or spec.tokens_per_minute:
            from .backends.base import endpoint_of

            split = self.limits_split()
            limiter = SharedRateLimit(self.shared.state(), rate_record(endpoint_of(spec.settings)),
                                      spec.rate / split if spec.rate else None,
                                      _share(spec.tokens_per_minute, split))
        adaptive, concurrency = self._adaptive(spec)
        return Dispatcher(
            spec.name, spec.settings, lambda: self.backend(spec.name), lambda: self.backend_class(spec.name),
            store=self.store(), limiter=limiter,
            policy=RetryPolicy(retries=spec.settings.retries, deadline=self.shared.deadline),
            concurrency=concurrency, batch_size=int(spec.settings.extra.get("batch_size", 16)),
            on_fatal=lambda message: self.mark_fatal(spec.name, message), scrubber=self.scrubber(),
            blocked=(lambda: self.shared.crashed(spec.name)) if self.shared.xdist else (lambda: None),
            adaptive=adaptive, budgets=self._budgets(spec),
        )

    def limits_split(self) -> int:
        """Into how many parts each rate, tokens-per-minute limit and budget is split: N for shard I/N
        without a coordination server (a job cannot see the others' requests, so it keeps its
        share of the quota), else 1 (one host, or all shards share one schedule on the server)."""
        shard = self.options.shard
        return shard[1] if shard is not None and self.shared.coordination is None else 1

    def limits_split_note(self) -> str | None:
        """The summary's line saying a shard kept its share of the limits (``limits_split``)."""
        split, shard, opts = self.limits_split(), self.options.shard, self.options
        if shard is None or split == 1:
            return None
        shares = [f"{m.name}: " + " and ".join(
            ([f"{m.rate / split:g} of {m.rate:g} requests/s"] if m.rate else [])
            + ([f"{_share(m.tokens_per_minute, split)} of {m.tokens_per_minute} tokens/min"]
               if m.tokens_per_minute else [])) for m in self.models if m.rate or m.tokens_per_minute]
        budgets = [("the run's budget", opts.budget_tokens, opts.budget_cost, self._run_currency())]
        budgets += [(f"{m.name}'s budget", m.budget.tokens, m.budget.cost, m.price.currency if m.price else "")
                    for m in self.models if m.budget is not None]
        shares += [f"{whose}: " + " and ".join(
            ([f"{_share(tokens, split):,} of {tokens:,} tokens"] if tokens is not None else [])
            + ([f"{cost / split:g} of {cost:g} {currency}"] if cost is not None else []))
            for whose, tokens, cost, currency in budgets if tokens is not None or cost is not None]
        if not shares:
            return None
        return (f"--llm-shard {shard[0]}/{shard[1]} without --llm-coordination: this shard kept 1/{split} of each "
                f"rate limit and budget ({'; '.join(shares)})")

    def _run_currency(self) -> str:
        """The currency of ``--llm-budget-cost``: the models' price currency (one, checked)."""
        return next((m.price.currency for m in self.models if m.price is not None), "")

    def _adaptive(self, spec: ModelSpec) -> tuple[Any, int]:
        """``concurrency: auto``: the endpoint's run-wide adaptive limit (``engine/concurrency``),
        and its ceiling as the thread count; a number: no adaptive limit, that many threads."""
        if spec.concurrency != "auto":
            return None, int(spec.concurrency)
        from .backends.base import endpoint_of
        from .engine.concurrency import CEILING, AdaptiveConcurrency, concurrency_record

        return AdaptiveConcurrency(self.shared.state(), concurrency_record(endpoint_of(spec.settings)),
                                   lease_s=spec.settings.timeout_s + 30.0, rate=spec.rate), CEILING

    def concurrency_summaries(self) -> list[dict[str, Any]]:
        """Per model with ``concurrency: auto`` that sent requests: the limit it reached and its
        in-flight curve (``engine.concurrency.summary``), read from the run's shared records."""
        from .backends.base import endpoint_of
        from .engine.concurrency import summary

        found = []
        for spec in self.models:
            if spec.concurrency == "auto":
                record = summary(self.shared.state(), endpoint_of(spec.settings))
                if record is not None:
                    found.append({"model": spec.name, **record})
        return found

    def _budgets(self, spec: ModelSpec) -> list[Any]:
        """The budgets the model's requests count against, each on its shared record: the run's
        (``--llm-budget-tokens``, ``--llm-budget-cost``: every model, judges too) and its profile's."""
        from .engine.budget import SharedBudget, budget_record

        opts, budgets, split = self.options, [], self.limits_split()
        price = spec.price
        rates = (price.input_per_mtok, price.output_per_mtok) if price is not None else None
        currency = price.currency if price is not None else ""
        if opts.budget_tokens is not None or opts.budget_cost is not None:
            run_currency = self._run_currency() or currency
            if opts.budget_cost is not None and (rates is None or currency != run_currency):
                raise ConfigError(f"--llm-budget-cost: model {spec.name} has no price in {run_currency}; "
                                  "set price: in its profile")
            budgets.append(SharedBudget(self.shared.state(), budget_record("run"),
                                        tokens=_share(opts.budget_tokens, split), cost=_part(opts.budget_cost, split),
                                        price=rates, currency=currency,
                                        label="the run's" if split == 1 else f"this shard's 1/{split} of the run's"))
        own = spec.budget
        if own is not None and (own.tokens is not None or own.cost is not None):
            budgets.append(SharedBudget(self.shared.state(), budget_record(spec.name), tokens=_share(own.tokens, split),
                                        cost=_part(own.cost, split), price=rates, currency=currency,
                                        label=f"model {spec.name}'s" if split == 1
                                        else f"this shard's 1/{split} of model {spec.name}'s"))
        return budgets

    def mark_fatal(self, name: str, message: str) -> None:
        self._fatal.setdefault(name, message)

    def stop(self) -> None:
        """Drop every queued request (the session is stopping); in-flight replies are still stored."""
        for dispatcher in list(self._dispatchers.values()):
            dispatcher.stop()
        if self._executions is not None:
            self._executions.stop()

    def engine_stats(self) -> dict[str, dict[str, Any]]:
        return {name: d.stats.public() for name, d in list(self._dispatchers.items())}

    def close(self) -> None:
        for dispatcher in self._dispatchers.values():
            dispatcher.close()
        self._dispatchers.clear()
        if self._executions is not None:
            self._executions.close()
            self._executions = None
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        if self._store is not None:
            self._store.close()
        self.shared.cleanup()
        _freeze_heap_at_exit()


_FREEZE_REGISTERED = threading.Event()  # once per process: the exit is the process's, not a run's


def _freeze_heap_at_exit() -> None:
    """At interpreter exit, move every object into the collector's permanent generation, so that
    the interpreter's last collection does not walk (and free, one by one) the whole heap that a
    large run leaves behind: on 2,000 samples that walk was 0.7-1.6 s after pytest had finished
    (benchmarks/RESULTS.md, issue 15). It runs from ``atexit``, after pytest's own cleanup (whose
    collections report unraisable exceptions) and after every report, the journal and the run's
    files are closed; other exit handlers still run. What it skips is only the finalizers of
    garbage cycles left at exit, which Python does not promise to run."""
    if not _FREEZE_REGISTERED.is_set():
        _FREEZE_REGISTERED.set()
        import atexit
        import gc

        atexit.register(gc.freeze)


def _share(whole: int | None, parts: int) -> int | None:
    """A shard's share of a whole-number limit (tokens, tokens/min): never below 1."""
    return None if whole is None else max(1, whole // parts)


def _part(whole: float | None, parts: int) -> float | None:
    return None if whole is None else whole / parts


def _no_profiles(name: str) -> ModelSpec:
    raise ConfigError(f"no model profiles to resolve judge {name!r} from", key="judge")


RUNTIME = pytest.StashKey[Runtime]()


def _no_sandbox() -> bool:
    from .sandbox import sandbox_status

    return sandbox_status() is not None


def _open_store(path: Path, *, read: bool) -> ResponseStore:
    from .engine.shared_state import SharedState
    from .engine.store import ResponseStore
    from .errors import ConfigError, reason

    try:
        return ResponseStore(path, read=read)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open the journal {path} ({reason(exc)}); --llm-cache=PATH puts it elsewhere, "
                          "--llm-cache=off runs without one (and without resuming)", key="--llm-cache") from None


def _shared_run(config: pytest.Config, opts: RunOptions) -> SharedRun:
    from .suites.scheduler import GROUPED_DISTS, has_suite_files

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        given = workerinput.get(WORKERINPUT_KEY) or {}
        return SharedRun(deadline=given.get("deadline"), xdist=True, grouped=bool(given.get("grouped")),
                         run_dir=given.get("run_dir"), owner=False, coordination=given.get("coordination"),
                         coordination_key=given.get("coordination_key"))
    dist = config.getoption("dist", "no") if config.pluginmanager.hasplugin("xdist") else "no"
    own = dist == "load" and (bool(opts.models) or has_suite_files(
        list(config.args), config.invocation_params.dir, list(config.getini("norecursedirs"))))
    grouped = own or dist in GROUPED_DISTS - {"load"}
    if opts.early_stop is not None and dist not in ("no", "load") and not grouped:  # a subject's gate lives in one process
        raise pytest.UsageError(f"--llm-early-stop with --dist={dist}: a subject's samples must stay on one worker; "
                                "use --dist=load (the default with -n), loadscope or loadfile")
    key = opts.coordination_key
    if opts.coordination is not None and key is None:  # decided here once, for every worker
        from .engine.redis_state import default_run_key

        key = default_run_key()
    return SharedRun(deadline=time.time() + opts.deadline_s if opts.deadline_s else None,
                     grouped=grouped, own_scheduler=own, coordination=opts.coordination, coordination_key=key)


def _cache_path(config: pytest.Config, opts: RunOptions) -> Callable[[], Path | None]:
    def locate() -> Path | None:
        if opts.cache_path is not None:
            return opts.cache_path if opts.cache_path.is_absolute() else config.invocation_params.dir / opts.cache_path
        cache = getattr(config, "cache", None)
        if cache is not None:
            return Path(cache.mkdir("llmeval")) / "replies.sqlite3"
        return config.rootpath / ".llmeval-cache" / "replies.sqlite3"

    return locate


def build_runtime(config: pytest.Config) -> Runtime:
    """The run's options and models. Profiles are parsed up front only when the run names models
    or has a profile file (a bad profile is then a usage error); otherwise on first use."""
    from .errors import ConfigError
    from .options import read_options
    from .profile_files import find_profile_files

    opts = read_options(config)
    files = [opts.models_file] if opts.models_file else find_profile_files(
        config.inipath, config.rootpath, list(config.args), config.invocation_params.dir)

    def resolve() -> list[ModelSpec]:
        from .profiles import resolve_models

        return resolve_models(opts, files)

    def resolve_judge(name: str) -> ModelSpec:
        from .profiles import resolve_judge

        return resolve_judge(name, opts, files)

    runtime = Runtime(options=opts, resolve_models=resolve, resolve_judge=resolve_judge,
                      shared=_shared_run(config, opts),
                      cache_path=_cache_path(config, opts))
    if opts.cache == "clear" and runtime.shared.owner:
        path = runtime.cache_path()
        if path is not None:
            from .engine.store import clear_store

            clear_store(path)
    if opts.models or files or opts.latency_gates:
        try:
            runtime.models
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    _check_run_gates(runtime)
    if runtime.shared.owner:
        try:
            runtime.shared.check_coordination()
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    _check_cost_budget(runtime)
    return runtime


def _check_cost_budget(runtime: Runtime) -> None:
    """``--llm-budget-cost`` is counted in one currency: every model needs a price in it."""
    if runtime.options.budget_cost is None:
        return
    try:
        models = runtime.models
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    unpriced = [m.name for m in models if m.price is None]
    if unpriced:
        raise pytest.UsageError(f"--llm-budget-cost: model {unpriced[0]} has no price; "
                                "set price: {input_per_mtok: ..., output_per_mtok: ..., currency: ...} in its profile")
    currencies = sorted({m.price.currency for m in models if m.price is not None})
    if len(currencies) > 1:
        raise pytest.UsageError(f"--llm-budget-cost: the models are priced in {' and '.join(currencies)}; "
                                "a run's cost budget is in one currency (set budget: {cost: ...} per profile instead)")


def _check_run_gates(runtime: Runtime) -> None:
    """``--llm-latency`` on TTFT, TPOT or ITL needs streaming: a usage error with one line."""
    from .results.latency_gates import parse_gate_key, stream_only

    keys = stream_only(key for key, _ in runtime.options.latency_gates)
    unstreamed = [m.name for m in runtime.models if not m.settings.stream] if keys else []
    if unstreamed:
        metric = parse_gate_key(keys[0])[0]
        raise pytest.UsageError(f"--llm-latency {keys[0]}: {metric} gates need --llm-stream "
                                f"(model {unstreamed[0]} does not stream)")
