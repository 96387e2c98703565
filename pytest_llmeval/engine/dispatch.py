"""One model's request queue in one process: requests are answered ahead of the items that need
them, ``concurrency`` at a time, so a run of N samples takes about N x latency / concurrency.

- Remote backends: ``concurrency`` worker threads, each sending one request at a time. With
  ``--llm-concurrency auto`` a request also takes a slot of the endpoint's run-wide adaptive
  limit (``concurrency.py``) while it is on the wire, and the threads grow with that limit.
- Local backends (``Backend.local``): one thread, which takes the queued requests of one kind in
  batches of ``batch_size`` through ``generate_batch`` / ``loglikelihood_batch``.
- The first request of a process goes alone; the rest wait for its answer. A rejected key or an
  unknown model then costs one request per process, not ``concurrency`` of them.
- A reply (or a policy refusal) is written to the store as soon as it arrives, then handed over.
- Every request sent passes the shared rate limit first, and requests sent = samples + retries.
- With budgets (``engine/budget.py``), a request reserves its estimate before it is sent (once,
  for all its retries) and its reply's usage settles it; a reached budget ends it ``not_asked``.
- Every reply carries token counts: the server's usage, else an estimate (``fill_usage``).
- Every outcome is scrubbed of the run's secrets (``scrub``) before it is stored or handed over.
- A reply longer than ``max_reply_chars`` (the server ignored ``max_tokens``) is an error.
- With a deadline, each attempt is bounded by the time left (``attempt_timeout``), and when the
  deadline passes every sample not yet answered, queued or in flight, ends at once as an error:
  a request in flight never holds the run past its deadline, whatever the backend.
- A backend that cannot be built (a native library that crashes on this machine) fails every
  request of its model with the same line, and is not tried again; neither is a model whose
  backend took an xdist worker down earlier in the run (``blocked``).

Threads are daemons and queued work is dropped on ``stop()``: Ctrl-C, ``-x`` or a fatal error end
the run at once, and whatever was answered is already in the store for the rerun.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from ..backends.base import (
    Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Reply, attempt_timeout, set_attempt_deadline,
)
from ..errors import BackendError, ConfigError, FatalBackendError, NotAsked, SampleRejected, reason
from ..scrub import Scrubber
from .concurrency import AdaptiveConcurrency, Ticket, is_overload
from .budget import Reservation, SharedBudget
from .ratelimit import SharedRateLimit
from .retry import Cancelled, RetryPolicy
from .store import ResponseStore, request_key

__all__ = ["Dispatcher", "EngineStats", "Outcome", "Request", "fill_usage", "max_reply_chars"]

Request = GenerateRequest | LoglikelihoodRequest
_BUDGET_POLL_S = 0.05  # how often a request waiting on the budget's reservations looks again
_BUDGET_SLACK_S = 30.0
_IN_FLIGHT_AT_DEADLINE = "the run's deadline (--llm-deadline) passed while this request was in flight"
_QUEUED_AT_DEADLINE = "the run's deadline (--llm-deadline) passed before this sample was sent"


def max_reply_chars(request: GenerateRequest) -> int:
    """The longest reply accepted for ``request``: 64 characters per ``max_tokens`` (no tokenizer
    spends more), and never less than 64 KiB. A longer one means the server ignored max_tokens."""
    return max(65536, 64 * request.max_tokens)


@dataclass(slots=True)
class Outcome:
    """What became of one request: a reply, a refusal, an error, or deliberately not sent
    (``not_asked``: early stopping withdrew it, a budget was reached), and what it took."""

    reply: Reply | None = None
    error: BackendError | None = None
    rejected: str | None = None
    not_asked: NotAsked | None = None
    retries: int = 0
    cached: bool = False
    latency_s: float | None = None  # of the attempt that answered, from when it was sent
    sent_at: float | None = None  # wall clock (epoch s) when that attempt was sent


@dataclass(slots=True)
class EngineStats:
    submitted: int = 0
    done: int = 0
    in_flight: int = 0
    sent: int = 0
    retries: int = 0
    cached: int = 0
    errors: int = 0
    started: float = field(default_factory=time.perf_counter)

    def public(self) -> dict[str, Any]:
        return {"submitted": self.submitted, "done": self.done, "in_flight": self.in_flight, "sent": self.sent,
                "retries": self.retries, "cached": self.cached, "errors": self.errors}


@dataclass(slots=True, eq=False)
class _Job:
    key: str
    request: Request
    future: Future[Outcome]
    tokens: int
    retries: int = 0
    reserved: list[tuple[SharedBudget, Reservation]] | None = None  # in the run's budgets, until settled


class Dispatcher:
    def __init__(
        self, name: str, settings: BackendSettings, make_backend: Callable[[], Backend],
        backend_class: Callable[[], type[Backend]], *,
        store: ResponseStore | None, limiter: SharedRateLimit | None, policy: RetryPolicy,
        concurrency: int, batch_size: int, on_fatal: Callable[[str], None], scrubber: Scrubber = Scrubber(),
        blocked: Callable[[], str | None] = lambda: None, adaptive: AdaptiveConcurrency | None = None,
        budgets: Sequence[SharedBudget] = (),
    ) -> None:
        self.name, self.settings, self._scrubber = name, settings, scrubber
        self._make_backend, self._store, self._limiter, self._policy = make_backend, store, limiter, policy
        self._backend_class = backend_class
        self._concurrency, self._batch_size, self._on_fatal = max(1, concurrency), max(1, batch_size), on_fatal
        self._blocked = blocked
        self._adaptive = adaptive  # --llm-concurrency auto: the run-wide limit; ``concurrency`` is then its ceiling
        self._budgets = tuple(budgets)
        self.stats = EngineStats()
        self._queue: deque[_Job] = deque()
        self._pending: dict[str, Future[Outcome]] = {}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._backend: Backend | None = None
        self._unbuilt: BackendError | None = None  # why the backend could not be built
        self._fatal: FatalBackendError | None = None
        self._probe_taken = self._gate_open = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._local: bool | None = None
        self._key_settings: BackendSettings | None = None
        self._timer: threading.Timer | None = None
        self._stopped = "the run stopped before this sample was sent"  # why, for samples asked later

    # -- the items' side ---------------------------------------------------------------------

    def submit(self, request: Request) -> Future[Outcome]:
        """The future outcome of ``request``; the same future for the same request twice."""
        try:
            key = request_key(self._keyed_settings(), request)
        except BackendError as exc:  # the served model could not be asked for its name
            if isinstance(exc, FatalBackendError):
                self._go_fatal(exc)
            failed: Future[Outcome] = Future()
            self._resolve(failed, Outcome(error=exc))
            return failed
        with self._cv:
            if key in self._pending:
                return self._pending[key]
            future: Future[Outcome] = Future()
            self._pending[key] = future
            self.stats.submitted += 1
        cached = self._store.get(key) if self._store is not None else None
        if cached is not None:  # a reply journaled before usage was filled in gets its estimate
            self._resolve(future, _from_store(fill_usage(request, cached)), cached=True)
            return future
        job = _Job(key, request, future, _estimate_tokens(request))
        with self._cv:
            if self._fatal is not None or self._stop.is_set():
                self._resolve(future, Outcome(error=self._fatal or Cancelled(self._stopped)))
                return future
            self._queue.append(job)
            self._start_threads()
            self._cv.notify()
        return future

    def _watch_deadline(self) -> None:
        """Arm (once) the timer that ends every unanswered sample when the run's deadline passes."""
        if self._policy.deadline is None or self._timer is not None:
            return
        self._timer = threading.Timer(max(0.0, self._policy.deadline - time.time()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        """The deadline passed: drop the queue, and end every sample still waiting for its answer.
        A request still in flight may yet finish; its reply is then journaled for the next run."""
        self.stop(_QUEUED_AT_DEADLINE)
        with self._cv:
            waiting = [f for f in self._pending.values() if not f.done()]
        for future in waiting:
            self._resolve(future, Outcome(error=Cancelled(_IN_FLIGHT_AT_DEADLINE)))

    def _keyed_settings(self) -> BackendSettings:
        """The settings the cache key is made of. ``model: auto`` (whatever the server serves) is
        replaced by the name the server gives, so two models served in turn at one URL never
        share answers; that costs one models request before the first lookup."""
        if self._key_settings is None:
            settings = self.settings
            if settings.model == "auto":
                try:
                    settings = replace(settings, model=str(self._backend_or_fatal().model_name()))
                except ConfigError as exc:
                    raise FatalBackendError(str(exc)) from None
            self._key_settings = settings
        return self._key_settings

    def stop(self, reason: str = "the run stopped before this sample was sent") -> None:
        """Drop queued work and let in-flight requests finish (their replies are still stored)."""
        self._stopped = reason
        self._stop.set()
        with self._cv:
            dropped = list(self._queue)
            self._queue.clear()
            self._cv.notify_all()
        for job in dropped:
            self._resolve(job.future, Outcome(error=Cancelled(reason)))

    def withdraw(self, futures: Collection[Future[Outcome]], why: NotAsked) -> int:
        """End the queued requests of ``futures`` unsent, each ``not_asked=why`` (early stopping:
        their subject's verdict is known; a budget reached). One already in flight finishes, and
        its reply is journaled. Returns how many were withdrawn."""
        wanted = set(futures)
        with self._cv:
            dropped = [job for job in self._queue if job.future in wanted]
            if dropped:
                self._queue = deque(job for job in self._queue if job.future not in wanted)
        for job in dropped:
            self._resolve(job.future, Outcome(not_asked=why))
        return len(dropped)

    def close(self) -> None:
        self.stop()
        if self._timer is not None:
            self._timer.cancel()
        if self._local:  # a model in this process must not be freed under the batch it is still running
            for thread in self._threads:
                thread.join()
        if self._backend is not None:
            self._backend.close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    # -- the workers' side -------------------------------------------------------------------

    def _start_threads(self) -> None:
        self._watch_deadline()
        wanted = min(1 if self._is_local() else self._threads_wanted(), self.stats.submitted)
        while len(self._threads) < wanted:
            thread = threading.Thread(target=self._work, name=f"llmeval-{self.name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _threads_wanted(self) -> int:
        """A fixed concurrency has that many threads; an adaptive one a few more than its limit
        (as last seen), up to its ceiling, so the threads grow with the limit."""
        if self._adaptive is None:
            return self._concurrency
        return min(self._concurrency, self._adaptive.limit + 2)

    def _is_local(self) -> bool:
        if self._local is None:
            try:
                self._local = bool(self._backend_class().local)
            except ConfigError:  # reported when the backend is built, as a fatal error
                self._local = False
        return self._local

    def _take(self) -> tuple[list[_Job], bool] | None:
        """The next job (or batch of one kind), and whether it is the probe; None to exit."""
        with self._cv:
            while True:
                if self._stop.is_set():
                    return None
                if self._queue and (self._gate_open or not self._probe_taken):
                    probe = not self._gate_open
                    self._probe_taken = True
                    first = self._queue.popleft()
                    jobs = [first]
                    limit = self._batch_size if self._is_local() and not probe else 1
                    while self._queue and len(jobs) < limit and type(self._queue[0].request) is type(first.request):
                        jobs.append(self._queue.popleft())
                    self.stats.in_flight += len(jobs)
                    if self._adaptive is not None:  # the limit may have grown since the last job
                        self._start_threads()
                    return jobs, probe
                self._cv.wait()

    def _work(self) -> None:
        set_attempt_deadline(self._policy.deadline)  # backends bound each attempt by the time left
        while (taken := self._take()) is not None:
            jobs, probe = taken
            try:
                if len(jobs) == 1:
                    self._finish(jobs[0], self._answer(jobs[0]))
                else:
                    self._answer_batch(jobs)
            finally:
                with self._cv:
                    self.stats.in_flight -= len(jobs)
                    if probe:
                        self._gate_open = True
                    self._cv.notify_all()

    def _backend_or_fatal(self) -> Backend:
        blocked = self._blocked()
        if blocked is not None:
            raise BackendError(blocked)
        if self._backend is None:
            with self._cv:
                if self._unbuilt is not None:
                    raise self._unbuilt
                if self._backend is None:
                    try:
                        self._backend = self._make_backend()
                    except ConfigError as exc:  # a missing key variable: no request can succeed
                        raise FatalBackendError(str(exc)) from None
                    except BackendError as exc:  # this model cannot run here; the others can
                        self._unbuilt = exc
                        raise
        return self._backend

    def _answer(self, job: _Job) -> Outcome:
        """One request, with its retries, as an outcome (never raises)."""
        latency: list[float] = []
        sent_at: list[float] = []

        def attempt() -> Reply:
            if self._fatal is not None:
                raise self._fatal
            if self._policy.deadline is not None and time.time() > self._policy.deadline:
                raise Cancelled("the run's deadline (--llm-deadline) passed before this sample was sent")
            backend = self._backend_or_fatal()
            refused = self._admit(job)
            if refused is not None:
                raise refused
            if self._limiter is not None and not self._limiter.wait(job.tokens, self._stop):
                raise Cancelled("the run stopped before this sample was sent")
            ticket = self._slot()
            with self._cv:
                self.stats.sent += 1
            sent_at.append(time.time())
            sent = time.perf_counter()
            reply = self._call_in_slot(ticket, backend, job.request)
            latency.append(time.perf_counter() - sent)
            _check_length(reply, job.request, self.settings.backend)
            return reply

        def on_retry() -> None:
            job.retries += 1
            with self._cv:
                self.stats.retries += 1

        try:
            reply = self._policy.call(attempt, self._stop, on_retry)
        except SampleRejected as exc:
            return Outcome(rejected=exc.reason, retries=job.retries)
        except NotAsked as exc:  # a budget was reached before this request was sent
            return Outcome(not_asked=exc, retries=job.retries)
        except BackendError as exc:
            return Outcome(error=exc, retries=job.retries)
        except Exception as exc:  # noqa: BLE001 - a user backend broke its contract: one line, one sample
            return Outcome(error=BackendError(f"backend {self.settings.backend!r} raised {reason(exc)}"),
                           retries=job.retries)
        return Outcome(reply=reply, retries=job.retries, latency_s=reply.latency_s or (latency[-1] if latency else None),
                       sent_at=sent_at[-1] if sent_at else None)

    def _answer_batch(self, jobs: list[_Job]) -> None:
        """A local batch; if it fails as a whole, each request is asked alone (with its retries)."""
        backend = None
        jobs = self._admitted(jobs)
        if not jobs:
            return
        try:
            backend = self._backend_or_fatal()
            with self._cv:
                self.stats.sent += len(jobs)
            started, sent_at = time.perf_counter(), time.time()
            requests = [j.request for j in jobs]
            if isinstance(requests[0], LoglikelihoodRequest):
                replies = backend.loglikelihood_batch(requests)  # type: ignore[arg-type]
            else:
                replies = backend.generate_batch(requests)  # type: ignore[arg-type]
            if len(replies) != len(jobs):
                raise BackendError(f"backend returned {len(replies)} replies for a batch of {len(jobs)}")
        except FatalBackendError as exc:
            for job in jobs:
                self._finish(job, Outcome(error=exc))
            return
        except Exception:  # noqa: BLE001 - isolate the failing request below
            for job in jobs:
                self._finish(job, self._answer(job))
            return
        each = (time.perf_counter() - started) / len(jobs)
        for job, reply in zip(jobs, replies):
            self._finish(job, Outcome(reply=reply, latency_s=reply.latency_s or each, sent_at=sent_at))

    def _slot(self) -> Ticket | None:
        """With an adaptive limit, wait for a slot (before the request's clock starts: a wait here
        is not the server's latency); None without one."""
        if self._adaptive is None or self._is_local():
            return None
        ticket = self._adaptive.acquire(self._stop)
        if ticket is None:
            raise Cancelled(self._stopped)
        if self._fatal is not None:  # the run's key was refused while this request waited
            self._adaptive.release(ticket, None)
            raise self._fatal
        return ticket

    def _call_in_slot(self, ticket: Ticket | None, backend: Backend, request: Request) -> Reply:
        """``_call``, then the slot given back with the signal the adaptive limit follows (the
        reply's latency, or whether the server said it is full). A slot is held only while the
        request is on the wire, never while it waits for a retry."""
        if ticket is None or self._adaptive is None:
            return self._call(backend, request)
        sent = time.perf_counter()
        try:
            reply = self._call(backend, request)
        except BaseException as exc:
            self._adaptive.release(ticket, None, overloaded=is_overload(exc))
            raise
        self._adaptive.release(ticket, time.perf_counter() - sent)
        return reply

    def _call(self, backend: Backend, request: Request) -> Reply:
        method = backend.loglikelihood if isinstance(request, LoglikelihoodRequest) else backend.generate
        if inspect.iscoroutinefunction(method):
            coroutine = method(request)  # type: ignore[arg-type]
            return self._run_async(coroutine)
        result = method(request)  # type: ignore[arg-type]
        if inspect.isawaitable(result):
            return self._run_async(result)
        return result

    def _run_async(self, awaitable: Any) -> Reply:
        """Async backends run on one event loop per model, so their clients and sessions persist."""
        with self._cv:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name=f"llmeval-{self.name}-loop", daemon=True).start()
        coroutine: Coroutine[Any, Any, Reply] = _await(awaitable, attempt_timeout(self.settings.timeout_s))
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        outcome = self._clean(outcome)
        if outcome.reply is not None:
            fill_usage(job.request, outcome.reply)
        if isinstance(outcome.error, FatalBackendError):
            self._go_fatal(outcome.error)
        if self._store is not None and (outcome.reply is not None or outcome.rejected is not None):
            stored = outcome.reply or Reply(text="", extra={"rejected": outcome.rejected})
            self._store.put(job.key, self.name, self.settings.backend, stored)
        if self._limiter is not None and outcome.reply is not None:
            used = (outcome.reply.prompt_tokens or 0) + (outcome.reply.completion_tokens or 0)
            if used:
                self._limiter.correct(used - job.tokens)
        self._settle(job, outcome.reply)
        self._resolve(job.future, outcome)

    def _admitted(self, jobs: list[_Job]) -> list[_Job]:
        """The jobs of a local batch that the budgets admit. A refused one ends not asked; one
        that must wait for reservations (held by this very batch) goes back to the queue's front."""
        admitted: list[_Job] = []
        later: list[_Job] = []
        for job in jobs:
            try:
                refused = self._admit(job, wait=False)
            except _NotNow:
                later.append(job)
                continue
            except Cancelled as exc:
                self._finish(job, Outcome(error=exc))
                continue
            if refused is not None:
                self._finish(job, Outcome(not_asked=refused))
            else:
                admitted.append(job)
        with self._cv:
            self._queue.extendleft(reversed(later))  # first again, in their order
        if not admitted and later:  # others' requests in flight hold the rest: not a busy loop
            self._stop.wait(_BUDGET_POLL_S)
        return admitted

    def _admit(self, job: _Job, *, wait: bool = True) -> NotAsked | None:
        """Reserve the request's estimate in each budget, once (its retries reuse it); NotAsked,
        and nothing reserved, when a budget is reached (``engine/budget.py``). While requests in
        flight hold what is left, wait for them (``wait`` False: raise ``_NotNow``)."""
        if not self._budgets or job.reserved is not None:
            return None
        request = job.request
        prompt = _estimate_prompt(request)
        completion = request.max_tokens if isinstance(request, GenerateRequest) else 0
        patience = time.monotonic() + self.settings.timeout_s * (self.settings.retries + 1) + _BUDGET_SLACK_S
        while True:
            taken: list[tuple[SharedBudget, Reservation]] = []
            for budget in self._budgets:
                got = budget.reserve(prompt, completion, force=time.monotonic() > patience)
                if not isinstance(got, Reservation):
                    break
                taken.append((budget, got))
            else:
                job.reserved = taken
                return None
            for held, reservation in taken:
                held.settle(reservation, 0, 0)
            if isinstance(got, str):
                return NotAsked(got, complete=False)
            if not wait:
                raise _NotNow
            if self._stop.wait(_BUDGET_POLL_S):  # requests in flight hold the rest: wait for them
                raise Cancelled(self._stopped)

    def _settle(self, job: _Job, reply: Reply | None) -> None:
        """The request's reservations become its real usage (no reply: refunded)."""
        reserved, job.reserved = job.reserved or [], []
        used = (reply.prompt_tokens or 0, reply.completion_tokens or 0) if reply is not None else (0, 0)
        for budget, reservation in reserved:
            budget.settle(reservation, *used)

    def _go_fatal(self, error: FatalBackendError) -> None:
        with self._cv:
            if self._fatal is not None:
                return
            self._fatal = error
            dropped = list(self._queue)
            self._queue.clear()
        self._on_fatal(str(error))
        for job in dropped:
            self._resolve(job.future, Outcome(error=error))

    def _resolve(self, future: Future[Outcome], outcome: Outcome, *, cached: bool = False) -> None:
        outcome = self._clean(outcome)
        outcome.cached = cached
        with self._cv:
            if future.done():  # ended at the deadline; the late reply was still journaled
                return
            self.stats.done += 1
            self.stats.cached += cached
            self.stats.errors += outcome.error is not None
            future.set_result(outcome)

    def _clean(self, outcome: Outcome) -> Outcome:
        """The outcome without the run's secrets (see ``scrub``): what is stored and scored."""
        if not self._scrubber:
            return outcome
        if outcome.reply is not None:
            reply = outcome.reply
            reply.text, reply.extra = self._scrubber.text(reply.text), self._scrubber.value(reply.extra)
        if outcome.error is not None:
            self._scrubber.error(outcome.error)
        if outcome.rejected is not None:
            outcome.rejected = self._scrubber.text(outcome.rejected)
        return outcome


class _NotNow(Exception):
    """A local batch's request must wait for the budget's reservations held by its own batch."""


async def _await(awaitable: Any, timeout_s: float) -> Reply:
    try:
        return await asyncio.wait_for(awaitable, timeout_s)
    except TimeoutError:
        from ..errors import TransientBackendError

        raise TransientBackendError(f"no reply within {timeout_s:g} s") from None


def _check_length(reply: Reply, request: Request, backend: str) -> None:
    if isinstance(request, GenerateRequest) and len(reply.text) > max_reply_chars(request):
        raise BackendError(f"backend {backend!r} returned a reply of {len(reply.text):,} characters for "
                           f"max_tokens={request.max_tokens}; the server ignored max_tokens")


def _from_store(reply: Reply) -> Outcome:
    rejected = reply.extra.get("rejected") if reply.extra else None
    if isinstance(rejected, str):
        return Outcome(rejected=rejected)
    return Outcome(reply=reply, latency_s=reply.latency_s)


def _estimate_tokens(request: Request) -> int:
    """A pre-send guess for the tokens/min and token budgets: the prompt's estimate plus the most
    the reply may spend (``max_tokens``), corrected by the reply's usage."""
    if isinstance(request, LoglikelihoodRequest):
        return _estimate_prompt(request)
    return _estimate_prompt(request) - 1 + request.max_tokens


def _estimate_prompt(request: Request) -> int:
    """The prompt's tokens at about 4 characters a token: the one rough estimate of the engine."""
    if isinstance(request, LoglikelihoodRequest):
        return sum(len(request.context) + len(c) for c in request.continuations) // 4 + 1
    return sum(len(m.get("content", "")) for m in request.messages) // 4 + 1


def fill_usage(request: Request, reply: Reply) -> Reply:
    """``reply`` with both token counts: the server's, or (where it sent none) the estimate at
    about 4 characters a token (a stream's completion: its content chunks), marked ``usage_estimated``. Local backends count with the
    model's own tokenizer, so only servers that send no ``usage`` are estimated. A loglikelihood
    request generates nothing: its completion is 0 tokens, never an estimate."""
    if reply.prompt_tokens is None:
        reply.prompt_tokens, reply.usage_estimated = _estimate_prompt(request), True
    if reply.completion_tokens is None:
        if isinstance(request, LoglikelihoodRequest):
            reply.completion_tokens = 0
        else:  # a stream's content chunks are about one token each: a closer guess than its characters
            chunks = reply.content_chunks
            reply.completion_tokens = chunks if chunks is not None else (len(reply.text) + 3) // 4
            reply.usage_estimated = True
    return reply
