"""Retries, with tenacity: exponential backoff with full jitter, at least as long as the server's
Retry-After, within the retry budget and the run's deadline.

Only ``TransientBackendError`` is retried (429, 5xx, timeouts, dropped connections, malformed
bodies). A 400 or a policy refusal would fail again, and 401/403/404 stop the run.

Every wait is bounded. A server's Retry-After longer than ``MAX_RETRY_AFTER_S`` (two minutes),
or one that would end after the run's deadline, ends the sample as an error at once, saying
so: obeying ``Retry-After: 99999`` would leave a CI job silently hanging for a day.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ..errors import BackendError, Cancelled, TransientBackendError

__all__ = ["MAX_RETRY_AFTER_S", "Cancelled", "RetryPolicy"]

T = TypeVar("T")
MAX_RETRY_AFTER_S = 120.0  # the longest Retry-After obeyed; longer ends the sample as an error


def _too_long(exc: BaseException | None, hinted: float, deadline: float | None) -> BackendError | None:
    """The error that ends a sample whose server asked for a wait we will not make, or None."""
    asked = f"{exc}; the server asked to wait {hinted:g} s before retrying (Retry-After)"
    if hinted > MAX_RETRY_AFTER_S:
        return BackendError(f"{asked}, longer than the {MAX_RETRY_AFTER_S:g} s this plugin waits")
    if deadline is not None and time.time() + hinted > deadline:
        left = max(0.0, deadline - time.time())
        return Cancelled(f"{asked}, past the run's deadline (--llm-deadline) in {left:.1f} s")
    return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2
    initial_s: float = 0.5
    max_backoff_s: float = 30.0
    deadline: float | None = None  # wall-clock time after which nothing new is sent

    def call(self, attempt: Callable[[], T], stop: threading.Event, on_retry: Callable[[], None]) -> T:
        """``attempt()`` until it succeeds, fails for good, or the budget or deadline runs out."""
        backoff = wait_random_exponential(multiplier=self.initial_s, max=self.max_backoff_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = float(getattr(exc, "retry_after_s", None) or 0.0)
            refused = _too_long(exc, hinted, self.deadline) if hinted else None
            if refused is not None:
                raise refused
            return max(hinted, backoff(state))

        def sleep(seconds: float) -> None:
            if self.deadline is not None and time.time() + seconds > self.deadline:
                raise Cancelled("the run's deadline (--llm-deadline) passed before a retry could be sent")
            if stop.wait(seconds):
                raise Cancelled("the run stopped before this request could be retried")

        retrying = Retrying(
            retry=retry_if_exception_type(TransientBackendError), stop=stop_after_attempt(self.retries + 1),
            wait=wait, sleep=sleep, before_sleep=lambda _state: on_retry(), reraise=True,
        )
        return retrying(attempt)
