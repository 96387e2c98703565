"""Attach each sample's result to its call-phase report: the one way results cross processes.

Under xdist a sample's setup report also carries the result it will have (everything but the
answer), so the controller knows what each worker is running: if a worker dies in native code,
the controller reports that sample as an error and stops its model for the rest of the run.

This runs for every test of every run, so it decides cheaply whether a test is a sample before
importing anything heavier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .identity import sample_of
from .item_outcome import RESULT
from .results.payload import PAYLOAD_ATTR

__all__ = ["ENGINE_ATTR", "JOURNAL_ATTR", "STARTED_ATTR", "attach_result"]

ENGINE_ATTR = "llmeval_engine"  # the worker's queue numbers, for the controller's progress line
JOURNAL_ATTR = "llmeval_journal"  # why this process's journal stopped recording, once it has
STARTED_ATTR = "llmeval_started"  # on a setup report under xdist: the sample this worker starts
_TEXT_FIELDS = ("prompt", "reply", "extracted", "error", "rejected")

if TYPE_CHECKING:
    from .runtime import Runtime


def attach_result(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, runtime: Runtime) -> None:
    if call.when == "setup" and runtime.shared.xdist:
        _announce_start(item, report)
    if call.when != "call":
        return
    strict = runtime.options.strict
    identity = sample_of(item)
    if identity is None:
        return
    result = item.stash.get(RESULT, None)
    if result is None:
        if identity.kind == "suite":
            return
        from .python_tests import result_for_test

        result = result_for_test(item, call, strict)
        if result is None:
            return
        if result.correct is False and not strict:
            report.outcome, report.longrepr = "passed", None  # a miss, not a failure
        if result.not_asked is not None:  # deliberately not sent (errors.NotAsked): a skip, with why
            path, line, _ = item.reportinfo()
            report.outcome, report.longrepr = "skipped", (str(path), (line or 0) + 1, f"Skipped: {result.not_asked}")
    scrubber = runtime.scrubber()
    if scrubber:  # what a Python test put in its result itself (see ``scrub``)
        for name in _TEXT_FIELDS:
            value = getattr(result, name)
            if isinstance(value, str):
                setattr(result, name, scrubber.text(value))
    setattr(report, PAYLOAD_ATTR, result.to_json())
    failure = runtime.journal_failure()
    if failure is not None:
        setattr(report, JOURNAL_ATTR, failure)
    if getattr(item.config.option, "xmlpath", None):  # pytest's --junitxml: each sample's properties
        from .report.junit import sample_properties

        item.user_properties.extend(sample_properties(result.sample_record()))  # junitxml reads teardown's
    if runtime.shared.xdist:
        import json

        setattr(report, ENGINE_ATTR, json.dumps(runtime.engine_stats()))


def _announce_start(item: pytest.Item, report: pytest.TestReport) -> None:
    identity = sample_of(item)
    if identity is None:
        return
    if identity.kind == "suite":
        result = item.skeleton()  # type: ignore[attr-defined]
    else:
        from .python_tests import sample_skeleton

        result = sample_skeleton(item)
    if result is not None:
        setattr(report, STARTED_ATTR, result.to_json())
