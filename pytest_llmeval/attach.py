"""Attach each sample's result to its call-phase report: the one way results cross processes."""

from __future__ import annotations

import pytest

from .python_tests import result_for_test
from .results.payload import PAYLOAD_ATTR
from .suites.collect import RESULT

__all__ = ["attach_result"]


def attach_result(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, strict: bool) -> None:
    if call.when != "call":
        return
    result = item.stash.get(RESULT, None)
    if result is None:
        result = result_for_test(item, call, strict)
        if result is None:
            return
        if result.correct is False and not strict:
            report.outcome, report.longrepr = "passed", None  # a miss, not a failure
    setattr(report, PAYLOAD_ATTR, result.to_json())
