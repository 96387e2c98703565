"""Sequential early stopping of a subject's threshold gate (``--llm-early-stop``, ``early_stop:``).

A subject that stops early is asked in its seeded random order (``samples.seeded_rank``: its items
are collected in that order, so its requests are queued in it). Each sample's result is fed to the
subject's ``SequentialGate`` as soon as it is in, but in that order: a result that arrives before
its predecessors' waits for them, so the rule always sees a prefix of the fixed order, whatever
order the replies come back in. Once the verdict is known, the subject's requests still queued are
withdrawn from the dispatcher (never sent), and every item after the prefix the rule saw ends
``NotAsked(..., complete=True)``: a reply that was already in flight is journaled, not counted.

One subject lives in one process: xdist's workers get whole subjects (``scheduler``), so no state
crosses processes, and the verdict is the same with and without ``-n``. The controller does not
trust any of this: ``results.aggregate`` replays the rule over the reported samples.

Not stopped early: subjects without a threshold, subjects in a gated group (the group's gate needs
every member sample: ``decide conservatively`` is, here, to ask them all), and suites of question
variants (``circular``, ``perturb``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import NotAsked
from ..results.sequential import SequentialGate, stop_reason
from ..samples import seeded_rank

if TYPE_CHECKING:
    from ..engine.dispatch import Dispatcher, Outcome
    from .plan import SubjectPlan, SuitePlan

__all__ = ["SubjectStop", "stop_for", "stop_level"]


def stop_level(plan: SuitePlan, subject: SubjectPlan, run_alpha: float | None) -> float | None:
    """The level alpha this subject stops early at, or None when it is asked in full."""
    alpha = plan.config.early_stop_alpha(run_alpha)
    if alpha is None or subject.threshold is None or any(t is not None for t in subject.group_thresholds.values()):
        return None
    return alpha


class SubjectStop:
    """One subject's (and model's) gate in this process, fed in the seeded order."""

    def __init__(self, threshold: float, alpha: float, order: list[str]) -> None:
        self.gate = SequentialGate(threshold, alpha, len(order))
        self._rank = {sample_id: i for i, sample_id in enumerate(order)}
        self._cv = threading.Condition()
        self._arrived: dict[int, float | None] = {}
        self._next = 0  # the rank the rule waits for
        self._blocked = False  # a sample of the prefix has no outcome (an error, not asked): ask the rest
        self._queued: dict[int, tuple[Dispatcher, list[Future[Outcome]]]] = {}

    def counts(self, sample_id: str) -> bool:
        """Whether the sample is in what the rule uses: before its verdict, or no verdict (yet)."""
        stopped = self.gate.stopped_at
        return stopped is None or self._rank[sample_id] < stopped

    def reason(self) -> str:
        return stop_reason(self.gate)

    def queued(self, sample_id: str, dispatcher: Dispatcher, futures: list[Future[Outcome]]) -> None:
        """The sample's requests, to withdraw should the verdict come first."""
        with self._cv:
            self._queued[self._rank[sample_id]] = (dispatcher, futures)

    def offer(self, sample_id: str, outcome: float | None) -> None:
        """The sample's score (None: it has none, an error or not asked). Fed to the rule once
        every sample before it in the order is in; the verdict withdraws the rest."""
        with self._cv:
            self._arrived[self._rank[sample_id]] = outcome
            undecided = self.gate.verdict is None
            while undecided and not self._blocked and self._next in self._arrived:
                score = self._arrived.pop(self._next)
                if score is None:
                    self._blocked = True
                    break
                self.gate.update(score)
                self._next += 1
                undecided = self.gate.verdict is None
            withdraw = [] if undecided or self.gate.stopped_at is None else [
                queued for rank, queued in self._queued.items() if rank >= self.gate.stopped_at]
            if not undecided:
                self._queued.clear()
            self._cv.notify_all()
        if withdraw:  # in a thread of its own: this runs in a reply's callback, under its queue's lock
            why = NotAsked(self.reason(), complete=True)
            threading.Thread(target=_withdraw, args=(withdraw, why), name="llmeval-early-stop", daemon=True).start()

    def settle(self, sample_id: str) -> None:
        """Wait until the rule has taken this sample, or no longer waits for it (a verdict, a
        gap): then ``counts`` is final for it. Every queued sample is answered or withdrawn."""
        rank = self._rank[sample_id]
        with self._cv:
            self._cv.wait_for(lambda: rank < self._next or self.gate.verdict is not None or self._blocked)


def _withdraw(queued: list[tuple[Dispatcher, list[Future[Outcome]]]], why: NotAsked) -> None:
    by_queue: dict[int, tuple[Dispatcher, list[Future[Outcome]]]] = {}
    for dispatcher, futures in queued:
        by_queue.setdefault(id(dispatcher), (dispatcher, []))[1].extend(futures)
    for dispatcher, futures in by_queue.values():
        dispatcher.withdraw(futures, why)


_Key = tuple[str, str, str]  # (suite, subject, model)
_STOPS = pytest.StashKey[dict[_Key, "SubjectStop | None"]]()
_MEMBERS = pytest.StashKey[dict[_Key, list[str]]]()


def stop_for(item: Any, level: float | None) -> SubjectStop | None:
    """The gate of ``item``'s subject and model in this process (None: asked in full). Its
    population is the subject's items in this session (after ``-k``, ``--deselect``, ``--llm-limit``)."""
    if level is None:
        return None
    stash: pytest.Stash = item.config.stash
    stops = stash.setdefault(_STOPS, {})
    key: _Key = (item.plan.name, item.subject_plan.subject, item.model)
    if key not in stops:
        members = stash.get(_MEMBERS, None)
        if members is None:  # every subject's sample ids, in one pass over the session's items
            members = stash[_MEMBERS] = _members(item.session.items)
        order = sorted(members.get(key, []), key=lambda s: seeded_rank(key[0], key[1], s))
        threshold: float | None = item.subject_plan.threshold
        stops[key] = SubjectStop(threshold, level, order) if order and threshold is not None else None
    return stops[key]


def _members(items: list[Any]) -> dict[_Key, list[str]]:
    found: dict[_Key, list[str]] = {}
    for i in items:
        if getattr(i, "subject_plan", None) is not None:
            found.setdefault((i.plan.name, i.subject_plan.subject, i.model), []).append(str(i.sample.id))
    return found


def when_done(futures: list[Future[Any]], then: Callable[[], None]) -> None:
    """Call ``then`` once every one of ``futures`` is done (at once if they all are)."""
    left = [len(futures)]
    lock = threading.Lock()

    def one(_: Future[Any]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            then()

    if not futures:
        then()
    for future in futures:
        future.add_done_callback(one)
