"""Token usage and cost per model, from the samples' payloads (the same with and without xdist,
and for merged shards, which sum their samples).

- Tokens are the server's ``usage`` counts; where a server sent none, the engine's estimate
  (``engine.dispatch.fill_usage``), and the model's row says how many replies were estimated.
- ``sent``: tokens of the replies requested in this run; ``journal``: tokens of the replies
  replayed from the journal (asked and paid for by an earlier run). Their sum is the whole run's
  usage, so a resumed run reports what all of it took, and what this one spent.
- Cost = prompt tokens x input price + completion tokens x output price, per million tokens,
  from the model's profile ``price``; None without a price. Each row keeps its currency: costs in
  different currencies are never added together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .payload import SampleResult

__all__ = ["UsageRow", "cost_of", "money", "usage_rows"]

_PER = 1_000_000


def cost_of(price: Mapping[str, Any] | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What the tokens cost at ``price`` (``input_per_mtok``, ``output_per_mtok``); None without one."""
    if not price:
        return None
    return (prompt_tokens * float(price["input_per_mtok"]) + completion_tokens * float(price["output_per_mtok"])) / _PER


def money(value: object, currency: object, missing: str = "—") -> str:
    """``0.000042 USD``: up to six decimals, trailing zeros dropped; ``missing`` without a price."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not currency:
        return missing
    return f"{value:,.6f}".rstrip("0").rstrip(".") + f" {currency}"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One model's tokens: in all, ``sent`` in this run and replayed from the ``journal``."""

    model: str
    replies: int  # samples whose replies have token counts
    estimated: int  # of those, replies whose server sent no usage (counts estimated)
    prompt_tokens: int
    completion_tokens: int
    sent_prompt_tokens: int
    sent_completion_tokens: int
    price: Mapping[str, Any] | None  # the profile's price, or None

    @property
    def currency(self) -> str | None:
        return str(self.price["currency"]) if self.price else None

    @property
    def cost(self) -> float | None:
        return cost_of(self.price, self.prompt_tokens, self.completion_tokens)

    @property
    def sent_cost(self) -> float | None:
        return cost_of(self.price, self.sent_prompt_tokens, self.sent_completion_tokens)

    def to_record(self) -> dict[str, Any]:
        """The results.json ``usage`` entry (docs/results-document.md)."""
        return {
            "model": self.model, "replies": self.replies, "estimated": self.estimated,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "sent": {"prompt_tokens": self.sent_prompt_tokens, "completion_tokens": self.sent_completion_tokens,
                     "cost": _rounded(self.sent_cost)},
            "journal": {"prompt_tokens": self.prompt_tokens - self.sent_prompt_tokens,
                        "completion_tokens": self.completion_tokens - self.sent_completion_tokens},
            "cost": _rounded(self.cost), "currency": self.currency,
            "price": dict(self.price) if self.price else None,
        }


def _rounded(cost: float | None) -> float | None:
    return None if cost is None else round(cost, 8)


def usage_rows(samples: Iterable[SampleResult], models: Sequence[str],
               prices: Mapping[str, Mapping[str, Any]] | None = None) -> list[UsageRow]:
    """One row per model in ``models`` order that has a reply with token counts, then the judges
    (a judged sample's ``judge`` carries the judge's tokens, counted under the judge's name)."""
    prices = prices or {}
    counted: dict[str, list[tuple[int, int, bool, bool]]] = {}  # model -> (prompt, completion, estimated, cached)
    for r in samples:
        if r.prompt_tokens is not None or r.completion_tokens is not None:
            counted.setdefault(r.model, []).append(
                (r.prompt_tokens or 0, r.completion_tokens or 0, r.tokens_estimated, r.cached))
        judge = r.judge or {}
        if judge.get("prompt_tokens") is not None or judge.get("completion_tokens") is not None:
            counted.setdefault(str(judge.get("model")), []).append(
                (int(judge.get("prompt_tokens") or 0), int(judge.get("completion_tokens") or 0),
                 bool(judge.get("tokens_estimated")), bool(judge.get("cached"))))
    order = list(dict.fromkeys([*models, *sorted(set(counted) - set(models))]))
    rows = []
    for model in order:
        replies = counted.get(model)
        if not replies:
            continue
        sent = [u for u in replies if not u[3]]
        rows.append(UsageRow(
            model=model, replies=len(replies), estimated=sum(u[2] for u in replies),
            prompt_tokens=sum(u[0] for u in replies), completion_tokens=sum(u[1] for u in replies),
            sent_prompt_tokens=sum(u[0] for u in sent), sent_completion_tokens=sum(u[1] for u in sent),
            price=prices.get(model)))
    return rows
