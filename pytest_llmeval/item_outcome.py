"""How a sample's result becomes a pytest outcome, the same for suite items and Python tests.

- right answer: passed;
- wrong answer: the report stays passed and is shown as ``missed`` (``m``), unless ``--llm-strict``;
- backend failure: failed, and shown in the ``error`` category (``E``);
- deliberately not sent (``errors.NotAsked``: early stopping, a budget): skipped, with the reason;
- rejected key or unknown model: the session is asked to stop, once, with the backend's line.
"""

from __future__ import annotations

import pytest

from .errors import BackendError, FatalBackendError
from .results.payload import SampleResult, result_of

__all__ = ["RESULT", "WrongAnswer", "raise_for_result", "report_status"]

RESULT = pytest.StashKey[SampleResult]()  # a suite item's result, read when its report is made


class WrongAnswer(AssertionError):
    """A miss under ``--llm-strict``."""


def raise_for_result(result: SampleResult, session: pytest.Session, strict: bool) -> None:
    if result.fatal:
        session.shouldstop = f"pytest-llmeval: {result.error}"
        raise FatalBackendError(result.error or "")
    if result.error is not None:
        raise BackendError(result.error)
    if result.not_asked is not None:
        pytest.skip(result.not_asked)
    if not result.correct and strict:
        raise WrongAnswer(
            f"wrong answer: extracted {result.extracted!r}, expected {result.target!r}\n"
            f"--- reply ---\n{result.reply}\n--- prompt ---\n{result.prompt}"
        )


def report_status(report: pytest.TestReport) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """The terminal category of a report that carries a sample result, or None to let pytest decide."""
    result = result_of(report)
    if result is None:
        return None
    if result.error is not None:
        return "error", "E", ("ERROR", {"red": True})
    if report.passed and result.correct is False:
        return "missed", "m", ("MISSED", {"yellow": True})
    return None
