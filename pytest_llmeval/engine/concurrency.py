"""Adaptive concurrency (``--llm-concurrency auto``): how many requests one endpoint gets at once,
found while the run goes, and shared by every process of the run through one record of
``shared_state`` (``concurrency:<endpoint>``), so ``-n 4`` adapts once, not four times.

The record holds the limit and the requests in flight (per process, as leases), and every request
changes it twice: ``acquire`` takes a slot before sending (or is told to wait while the endpoint
has ``limit`` in flight) and ``release`` gives it back with what the reply said. The rule is
TCP's, with a memory of where trouble began:

- Start at ``START`` and double every round (one round: ``limit`` healthy replies) until the first
  sign of trouble (slow start); from then on, one more per round (additive increase).
- Trouble is a 429 or 503 (the server says it is full) or a sustained rise in latency: the median
  of a process's last ``WINDOW`` replies more than ``SLOW_FACTOR`` times the lowest such median
  seen (the low-load latency, as TCP Vegas compares with its base RTT). A median needs half the
  window to move, so one slow reply never counts. Trouble cuts the limit to ``BETA`` times the
  level it happened at (for a 429: the requests in flight when the refused one was sent), once:
  replies to requests sent before the last cut are not trouble again.
- Below the level where trouble last began, the limit climbs one a round; just under it, it holds
  ``probe`` rounds before trying one more. A probe that fails doubles ``probe`` (up to
  ``MAX_PROBE``); one that holds a full round with that many requests really in flight (a round
  that never reached the level proves nothing) forgets the old level and halves ``probe``. So a
  server that takes K at once sees K in flight almost always, and a 429 only once every few dozen
  rounds (a limit that went back to probing at once after each success would keep hitting the
  server's edge whenever the count in flight here and the server's differ by one).
- The ceiling is ``CEILING``, and with a rate limit, about twice rate x latency (more in flight
  than that only waits for the rate limit's slots). The limit grows only while the run uses at
  least half of it, so a run with little work never inflates it.

A process killed with slots taken must not hold them for the rest of the run: each process's
slots are one lease, ``[count, expiry]``, renewed by each of its updates to ``expiry = now +
lease_s`` (the request timeout plus a margin). Every slot of a live process was taken at or
before its last update and ends within the timeout, so a lease that expired belongs to a process
that is gone, and the next update of anyone drops it. Times are the store's clock (``now``).

The limit and the requests in flight are sampled into a second, bounded record
(``concurrency:<endpoint>:curve``) at most every ``spacing`` seconds (a spacing that grows with the
run, so a run of hours still keeps a few hundred points); ``summary`` reads both at the end for
results.json and the chart in report.html.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .shared_state import SharedState

__all__ = ["AUTO", "CEILING", "START", "AdaptiveConcurrency", "Ticket", "concurrency_record", "is_overload", "summary"]

AUTO = "auto"
START = 4
CEILING = 256
BETA = 0.85  # the multiplicative decrease
SLOW_FACTOR = 2.0  # a median latency this many times the low-load one is congestion
WINDOW, MIN_MEDIAN = 16, 8  # a process's recent replies, and how many a median needs
FIRST_PROBE, MAX_PROBE = 4, 64  # rounds held just below the last trouble before one more
_POLL_MIN_S, _POLL_MAX_S = 0.002, 0.02  # a waiting process asks again this often (a local release wakes it at once)
_MAX_POINTS = 400  # the curve's size bound
_OVERLOAD = frozenset({429, 503})


def concurrency_record(endpoint: str) -> str:
    """The name of one endpoint's adaptive concurrency record in the run's shared state."""
    return f"concurrency:{endpoint}"


def is_overload(exc: BaseException) -> bool:
    """Whether a failed attempt says the server is full (HTTP 429 or 503): the backends' errors
    carry the status they got (``TransientBackendError.status``)."""
    return getattr(exc, "status", None) in _OVERLOAD


@dataclass(frozen=True, slots=True)
class Ticket:
    """A slot taken: when (store clock), how many were in flight with it, and which cut it saw."""

    sent: float
    in_flight: int
    cuts: int
    limit: int


class AdaptiveConcurrency:
    """One endpoint's adaptive limit, as seen by one process (see the module docstring)."""

    def __init__(self, state: SharedState, name: str, *, lease_s: float, rate: float | None = None,
                 start: int = START, ceiling: int = CEILING, owner: str | None = None) -> None:
        self.state, self.name, self.lease_s, self.rate = state, name, lease_s, rate
        self.start, self.ceiling = start, ceiling
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # a slot of this process was given back
        self._polling = False  # one thread per process asks the record; the others wait for it
        self._window: deque[float] = deque(maxlen=WINDOW)
        self._base: float | None = None
        self._cuts_seen = 0
        self.limit = start  # as last seen: how many threads this process keeps

    # -- one process's side ----------------------------------------------------------------

    def acquire(self, stop: threading.Event) -> Ticket | None:
        """Take a slot, waiting while the endpoint is full; None when ``stop`` is set first."""
        with self._freed:
            while self._polling:
                if stop.is_set():
                    return None
                self._freed.wait(_POLL_MAX_S)
            self._polling = True
        delay = _POLL_MIN_S
        try:
            while not stop.is_set():
                taken = self.state.update(self.name, self._take)
                ticket, point = taken
                self._plot(point)
                if ticket is not None:
                    self.limit = ticket.limit
                    return ticket
                with self._freed:
                    self._freed.wait(delay)
                delay = min(2 * delay, _POLL_MAX_S)
            return None
        finally:
            with self._freed:
                self._polling = False
                self._freed.notify_all()

    def release(self, ticket: Ticket, latency_s: float | None, *, overloaded: bool = False) -> None:
        """Give the slot back, with what became of the request: a reply after ``latency_s``, a
        429/503 (``overloaded``), or another failure (``latency_s`` None: no signal either way)."""
        slow = False
        with self._lock:
            if latency_s is not None and ticket.cuts == self._cuts_seen:
                self._window.append(latency_s)
                if len(self._window) >= MIN_MEDIAN:
                    median = statistics.median(self._window)
                    self._base = median if self._base is None else min(self._base, median)
                    slow = median > SLOW_FACTOR * self._base
        cuts, limit, point = self.state.update(
            self.name, lambda raw, now: self._given_back(raw, now, ticket, latency_s, overloaded, slow))
        with self._freed:
            if cuts != self._cuts_seen:  # replies to requests sent before a cut say nothing of the new limit
                self._cuts_seen = cuts
                self._window.clear()
            self.limit = limit
            self._freed.notify_all()
        self._plot(point)

    def _plot(self, point: list[float] | None) -> None:
        if point is not None:
            self.state.update(f"{self.name}:curve", lambda raw, now: (_with_point(raw, point), None))

    # -- the record's changes (pure functions of the record and the store's clock) ----------

    def _take(self, raw: bytes | None, now: float) -> tuple[bytes, tuple[Ticket | None, list[float] | None]]:
        rec = _load(raw, now, self.start)
        in_flight = _in_flight(rec, now)
        if in_flight >= max(1, int(rec["l"])):
            return _dump(rec), (None, None)
        count = rec["n"].get(self.owner, [0, 0.0])[0]
        rec["n"][self.owner] = [count + 1, now + self.lease_s]
        rec["sent"] += 1
        rec["peak"] = max(rec["peak"], in_flight + 1)
        rec["rm"] = max(rec.get("rm", 0), in_flight + 1)  # the most in flight this round
        ticket = Ticket(now, in_flight + 1, rec["c"], max(1, int(rec["l"])))
        point = _sample(rec, now, in_flight + 1)
        return _dump(rec), (ticket, point)

    def _given_back(self, raw: bytes | None, now: float, ticket: Ticket, latency_s: float | None,
                    overloaded: bool, slow: bool) -> tuple[bytes, tuple[int, int, list[float] | None]]:
        rec = _load(raw, now, self.start)
        in_use = max(ticket.in_flight, _in_flight(rec, now))  # this one included
        count = rec["n"].get(self.owner, [0, 0.0])[0]
        if count > 1:
            rec["n"][self.owner] = [count - 1, now + self.lease_s]
        else:
            rec["n"].pop(self.owner, None)
        fresh = ticket.sent >= rec["ct"]  # sent under the current limit
        if overloaded:
            rec["over"] += 1
            if fresh:
                _cut(rec, now, ticket.in_flight)
        elif latency_s is not None:
            rec["lat"] = latency_s if rec["lat"] is None else 0.9 * rec["lat"] + 0.1 * latency_s
            if slow and fresh:
                _cut(rec, now, rec["l"])
            elif fresh and 2 * in_use >= ticket.limit:  # the limit was in use (half of it at least): it may grow
                _grow(rec, self._cap(rec))
        rec["hi"] = max(rec["hi"], rec["l"])
        limit = max(1, int(rec["l"]))
        point = _sample(rec, now, _in_flight(rec, now))
        return _dump(rec), (rec["c"], limit, point)

    def _cap(self, rec: dict[str, Any]) -> float:
        """The ceiling; with a rate limit, twice the requests that rate keeps in flight."""
        if self.rate is None or rec["lat"] is None:
            return float(self.ceiling)
        return float(min(self.ceiling, max(self.start, math.ceil(2 * self.rate * rec["lat"]) + 1)))


def _load(raw: bytes | None, now: float, start: int) -> dict[str, Any]:
    if raw:
        try:
            rec: dict[str, Any] = json.loads(raw)
            return rec
        except ValueError:  # a record cut short by a crash mid-write: start afresh rather than fail
            pass
    # l: limit, w: level where trouble began, p: rounds to hold below it, h: rounds held, a: healthy
    # replies this round, c: cuts, ct: last cut, n: leases, lat: mean latency, ns: next sample, t0: start
    return {"l": float(start), "w": None, "p": FIRST_PROBE, "h": 0, "a": 0, "c": 0, "ct": 0.0, "n": {},
            "lat": None, "ns": 0.0, "t0": now, "sent": 0, "over": 0, "peak": 0, "hi": float(start)}


def _dump(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, separators=(",", ":")).encode()


def _in_flight(rec: dict[str, Any], now: float) -> int:
    """Requests in flight, after dropping the leases of processes that are gone."""
    rec["n"] = {owner: lease for owner, lease in rec["n"].items() if lease[1] >= now}
    return int(sum(lease[0] for lease in rec["n"].values()))


def _cut(rec: dict[str, Any], now: float, level: float) -> None:
    """Multiplicative decrease, remembering where the trouble began."""
    if rec["w"] is not None and level >= rec["w"]:  # a probe above the old level failed: wait longer next time
        rec["p"] = min(MAX_PROBE, 2 * rec["p"])
    rec["w"] = float(level)
    rec["l"] = max(1.0, min(rec["l"], level) * BETA)
    rec["a"] = rec["h"] = rec["rm"] = 0
    rec["c"] += 1
    rec["ct"] = now


def _grow(rec: dict[str, Any], cap: float) -> None:
    """One healthy reply: slow start before any trouble, one more per round after it."""
    if rec["c"] == 0:
        rec["l"] = min(cap, rec["l"] + 1)
        return
    rec["a"] += 1
    if rec["a"] < max(1, int(rec["l"])):
        return
    rec["a"] = 0  # a round ended
    level, reached = rec["w"], rec.get("rm", 0)
    rec["rm"] = 0
    if level is not None and rec["l"] >= level and reached >= level:  # a full round with the old level in flight:
        rec["w"], rec["p"] = None, max(FIRST_PROBE, rec["p"] // 2)  # the server has room now
        level = None
    if level is not None and rec["l"] + 1 >= level:
        rec["h"] += 1
        if rec["h"] < rec["p"]:
            return
        rec["h"] = 0
    rec["l"] = min(cap, rec["l"] + 1)


def _sample(rec: dict[str, Any], now: float, in_flight: int) -> list[float] | None:
    """A point of the curve, when one is due: [seconds since the start, limit, in flight]."""
    if now < rec["ns"]:
        return None
    elapsed = now - rec["t0"]
    rec["ns"] = now + max(0.05, elapsed / 200)
    return [round(elapsed, 3), max(1, int(rec["l"])), in_flight]


def _with_point(raw: bytes | None, point: list[float]) -> bytes:
    points: list[list[float]] = json.loads(raw) if raw else []
    points.append(point)
    if len(points) > _MAX_POINTS:
        points = sorted(points)[::2]
    return json.dumps(points, separators=(",", ":")).encode()


def summary(state: SharedState, endpoint: str) -> dict[str, Any] | None:
    """What results.json says of one endpoint's adaptive concurrency: the limit it reached, the
    requests in flight, the 429/503 replies, the cuts, and the curve (None: it never sent)."""
    name = concurrency_record(endpoint)
    raw = state.read(name)
    if not raw:
        return None
    rec = json.loads(raw)
    curve_raw = state.read(f"{name}:curve")
    curve = sorted(json.loads(curve_raw)) if curve_raw else []
    return {"start": START, "final_limit": max(1, int(rec["l"])), "max_limit": max(1, int(rec["hi"])),
            "peak_in_flight": rec["peak"], "sent": rec["sent"], "overloaded": rec["over"], "cuts": rec["c"],
            "mean_in_flight": _mean_in_flight(curve), "curve": curve}


def _mean_in_flight(curve: list[list[float]]) -> float | None:
    """The time-weighted mean of the requests in flight over the sampled curve."""
    if len(curve) < 2 or curve[-1][0] <= curve[0][0]:
        return None
    area = sum((b[0] - a[0]) * a[2] for a, b in zip(curve, curve[1:]))
    return round(area / (curve[-1][0] - curve[0][0]), 2)
