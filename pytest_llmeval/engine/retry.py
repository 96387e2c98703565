"""Retries, with tenacity: exponential backoff with full jitter, at least as long as the server's
Retry-After, within the retry budget and the run's deadline.

Only ``TransientBackendError`` is retried (429, 5xx, timeouts, dropped connections, malformed
bodies). A 400 or a policy refusal would fail again, and 401/403/404 stop the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ..errors import BackendError, TransientBackendError

__all__ = ["Cancelled", "RetryPolicy"]

T = TypeVar("T")


class Cancelled(BackendError):
    """The run stopped (deadline, fatal error, Ctrl-C) while this request waited."""


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
            hinted = getattr(exc, "retry_after_s", None) or 0.0
            return max(float(hinted), backoff(state))

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
