"""The one table of numeric settings: each key's type, valid range and default.

Options (``--llm-timeout``, ini ``llm_timeout``), profile keys (``timeout:``) and suite keys
(``generation.max_tokens``, ``limit``) all check their values here, so a range is stated once and
a value outside it is the same one-line error wherever it was given. No value is ever silently
replaced: ``--llm-timeout=0`` is an error, never "no timeout" nor "the default". NaN and infinity
are never valid (a limit of infinity is written by leaving the key out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["RANGES", "Range", "check", "default", "ranged"]


@dataclass(frozen=True, slots=True)
class Range:
    """``low`` and ``high`` bound the value (None: unbounded); ``open_low`` excludes ``low``."""

    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    default: float | None = None
    unit: str = ""

    @property
    def text(self) -> str:
        """What a valid value is, in words: ``a number > 0``, ``an integer >= 1``, ``a number from 0 to 1``."""
        noun = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            if self.open_low:
                return f"{noun} > {_num(self.low)} and <= {_num(self.high)}"
            return f"{noun} from {_num(self.low)} to {_num(self.high)}"
        if self.low is not None:
            return f"{noun} {'>' if self.open_low else '>='} {_num(self.low)}"
        return noun

    def check(self, value: Any) -> Any:
        """``value`` as this range's type; ValueError("expected ..., got ...") when it is not valid."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected {self.text}, got {value!r}")
        if self.kind is int and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected {self.text}, got {value!r}")
        ok = math.isfinite(value)
        ok = ok and (self.low is None or (value > self.low if self.open_low else value >= self.low))
        ok = ok and (self.high is None or value <= self.high)
        if not ok:
            raise ValueError(f"expected {self.text}, got {_num(value)}")
        return self.kind(value)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# key -> range. Keys are option names without ``--llm-`` (dashes as underscores), which are also
# the profile keys where both exist; ``timeout`` is ``--llm-timeout`` and the profile's ``timeout``.
RANGES: dict[str, Range] = {
    "retries": Range(int, low=0, default=2),
    "timeout": Range(float, low=0, open_low=True, default=60.0, unit="s"),
    "concurrency": Range(int, low=1, default=8),
    "rate": Range(float, low=0, open_low=True, unit="requests/s"),
    "tokens_per_minute": Range(int, low=1),
    "deadline": Range(float, low=0, open_low=True, unit="s"),
    "progress": Range(float, low=0, default=10.0, unit="s"),
    "limit": Range(int, low=1),
    "max_tokens": Range(int, low=1, default=256),
    "temperature": Range(float, low=0, default=0.0),
    "regression_tolerance": Range(float, low=0, high=1, default=0.01),
    "regression_significance": Range(float, low=0, high=1, open_low=True, default=0.05),
    "flips": Range(int, low=0, default=5),
    "shrink_calls": Range(int, low=1, default=100),
    "max_unparsed": Range(float, low=0, high=1),
    "early_stop": Range(float, low=0, high=0.5, open_low=True, default=0.05),  # the level alpha
    "budget_tokens": Range(int, low=1, unit="tokens"),
    "budget_cost": Range(float, low=0, open_low=True),
    "price_per_mtok": Range(float, low=0),
}


def check(key: str, value: Any) -> Any:
    """``value`` checked against ``key``'s range (None passes: the key was not given)."""
    return None if value is None else RANGES[key].check(value)


def default(key: str) -> Any:
    """The default of ``key``, as its type."""
    value = RANGES[key].default
    assert value is not None, f"{key} has no default"
    return RANGES[key].kind(value)


def ranged(key: str) -> Any:
    """The pydantic validator of a profile or suite field for ``key``, used as
    ``timeout: Annotated[float | None, ranged("timeout")] = None``: the table checks the value
    before pydantic would coerce it, so the error reads like the option's
    (``expected a number > 0, got 0``) and ``true`` is never read as 1."""
    from pydantic import BeforeValidator

    spec = RANGES[key]

    def strict(value: Any) -> Any:
        return None if value is None else spec.check(value)

    return BeforeValidator(strict)
