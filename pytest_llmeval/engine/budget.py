"""Token and cost budgets, shared by every process of the run through one shared record each
(``shared_state``: ``budget:run`` for the command line's, ``budget:<model>`` for a profile's).

Before a request is sent it reserves its estimate in one atomic update: the prompt at about 4
characters a token plus ``max_tokens`` for the reply (the most it may spend), priced at the
model's price for a cost budget. The reply's real usage then replaces the reservation (a failed
request refunds it). When what was spent plus the estimate would pass the budget, the budget
closes: that request and every later one, in every process, is not sent (``errors.NotAsked``,
its subject incomplete). When only the reservations of requests still in flight stand in the way,
the request waits for them to settle (replies are usually far below ``max_tokens``), and closes
the budget if they have not after ``patience_s`` (a process killed while holding reservations).

Overshoot: requests already in flight when the budget closes finish, but each was admitted only
with its reservation inside the budget. What is sent stays within the budget, except where a
reply's real usage exceeds its reservation: a prompt with more tokens than characters / 4 (CJK
text, say), or a server that ignores ``max_tokens``; at most that excess, once per request in
flight (concurrency x processes). Replies from the journal are not requests: they cost nothing
and never count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .shared_state import SharedState

__all__ = ["Reservation", "SharedBudget", "budget_record"]


def budget_record(scope: str) -> str:
    """The name of one budget's record: ``budget:run`` or ``budget:<model name>``."""
    return f"budget:{scope}"


@dataclass(frozen=True, slots=True)
class Reservation:
    tokens: int
    cost: float


class SharedBudget:
    """A token and/or cost limit counted across processes. ``price`` is (input, output) per
    million tokens, needed for a cost limit; ``label`` says whose budget it is in the reason."""

    def __init__(self, state: SharedState, name: str, *, tokens: int | None = None, cost: float | None = None,
                 price: tuple[float, float] | None = None, currency: str = "", label: str = "the run's") -> None:
        if cost is not None and price is None:
            raise ValueError("a cost budget needs a price")
        self.state, self.name, self.tokens, self.cost = state, name, tokens, cost
        self.price, self.currency, self.label = price or (0.0, 0.0), currency, label

    def reason(self, kind: str) -> str:
        """The skip reason of the samples not asked: the same in every process, one line."""
        if kind == "tokens":
            return f"{self.label} budget of {self.tokens:,} tokens was reached"
        return f"{self.label} budget of {self.cost:g} {self.currency} was reached"

    def priced(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price[0] + completion_tokens * self.price[1]) / 1_000_000

    def reserve(self, prompt_tokens: int, completion_tokens: int, *, force: bool = False) -> Reservation | str | None:
        """Reserve a request's estimate: the reservation; or the reason it may not be sent (the
        budget is reached: what is spent plus this estimate would pass it); or None to wait,
        when only the reservations of requests in flight stand in the way (they settle below
        their estimate as a rule). ``force``: waited long enough, close rather than wait."""
        wanted = Reservation(prompt_tokens + completion_tokens, self.priced(prompt_tokens, completion_tokens))

        def change(raw: bytes | None, now: float) -> tuple[bytes, Reservation | str | None]:
            spent, held, closed = _load(raw)
            if closed is None:
                passes = self._passes(spent, wanted)
                if not passes and not self._passes(_plus(spent, held), wanted):
                    return _dump(spent, _plus(held, wanted), None), wanted
                if passes or force:
                    closed = self.reason(passes or self._passes(_plus(spent, held), wanted) or "tokens")
                else:
                    return _dump(spent, held, None), None
            return _dump(spent, held, closed), closed

        return self.state.update(self.name, change)

    def _passes(self, counted: Reservation, wanted: Reservation) -> str | None:
        """Which limit ``counted`` plus ``wanted`` would pass ("tokens", "cost"), or None."""
        if self.tokens is not None and counted.tokens + wanted.tokens > self.tokens:
            return "tokens"
        if self.cost is not None and counted.cost + wanted.cost > self.cost + 1e-12:
            return "cost"
        return None

    def settle(self, reserved: Reservation, prompt_tokens: int, completion_tokens: int) -> None:
        """Replace a reservation by what the request really used (0 and 0: it failed, refund)."""
        used = Reservation(prompt_tokens + completion_tokens, self.priced(prompt_tokens, completion_tokens))

        def change(raw: bytes | None, now: float) -> tuple[bytes, None]:
            spent, held, closed = _load(raw)
            return _dump(_plus(spent, used), _plus(held, Reservation(-reserved.tokens, -reserved.cost)), closed), None

        self.state.update(self.name, change)

    def spent(self) -> Reservation:
        """Tokens and cost of the requests answered so far (in flight not included)."""
        return _load(self.state.read(self.name))[0]


def _plus(a: Reservation, b: Reservation) -> Reservation:
    return Reservation(a.tokens + b.tokens, a.cost + b.cost)


def _load(raw: bytes | None) -> tuple[Reservation, Reservation, str | None]:
    """(spent, held by requests in flight, why it closed) from the record's JSON."""
    try:
        record = json.loads(raw) if raw else {}
    except ValueError:
        record = {}
    closed = record.get("closed")
    return (Reservation(int(record.get("tokens", 0)), float(record.get("cost", 0.0))),
            Reservation(int(record.get("held_tokens", 0)), float(record.get("held_cost", 0.0))),
            str(closed) if closed else None)


def _dump(spent: Reservation, held: Reservation, closed: str | None) -> bytes:
    return json.dumps({"tokens": spent.tokens, "cost": spent.cost, "held_tokens": held.tokens, "held_cost": held.cost,
                       "closed": closed}, separators=(",", ":")).encode()
