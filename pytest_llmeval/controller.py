"""The controller's side of a run: gather results as reports arrive, decide, write, render.

Runs only in the process that owns the terminal (never in an xdist worker). Deciding happens in
``pytest_sessionfinish`` so the verdict holds under ``-p no:terminal``; rendering is separate.
samples.jsonl is appended per report, so a crash or Ctrl-C keeps every finished sample.
"""

from __future__ import annotations

import datetime as dt
import platform
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .options import RunOptions
from .results.payload import SampleResult, result_of
from .runtime import Runtime

if TYPE_CHECKING:
    from .results.conclude import Conclusion, Settings

__all__ = ["CONTROLLER", "Controller"]


@dataclass(eq=False)  # registered as a plugin object, so it must stay hashable
class Controller:
    options: RunOptions
    runtime: Runtime
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    _t0: float = field(default_factory=time.perf_counter)
    results: dict[tuple[str, str, str, str], SampleResult] = field(default_factory=dict)
    conclusion: Conclusion | None = None  # decided at session finish
    document: dict[str, Any] = field(default_factory=dict)  # results.json's content, rendered by every report
    _writer: Any = None
    progress: Any = None
    _config: Any = None

    def open(self, config: pytest.Config) -> None:
        from .report.progress import Progress

        self.progress = Progress(interval_s=self.options.progress_s if config.get_verbosity() >= 0 else 0.0)
        self._config = config
        if self.options.report_dir is not None:
            from .report.files import SamplesWriter

            self.options.report_dir.mkdir(parents=True, exist_ok=True)
            self._writer = SamplesWriter(self.options.report_dir / "samples.jsonl")

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Each sample's payload as its report arrives, from this process or an xdist worker."""
        result = result_of(report)
        if result is None:
            return
        self.results[(result.model, result.suite, result.subject, result.id)] = result
        if self._writer is not None:
            self._writer.write(result)
        self._show_progress(result, report)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if any(item.get_closest_marker("llmeval") or {"llm", "sample"} & set(getattr(item, "fixturenames", ()))
               for item in session.items):  # checked first: resolving models costs an import
            self.progress.count_items((item.nodeid for item in session.items), [m.name for m in self.runtime.models])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        from .engine.scheduler import SUITE_MARK

        if self.progress.totals or not (self.options.models or any(SUITE_MARK in i for i in ids)):
            return  # every worker collects the same items: count them once
        self.progress.count_items(ids, [m.name for m in self.runtime.models])

    def _show_progress(self, result: SampleResult, report: pytest.TestReport) -> None:
        import json

        from .attach import ENGINE_ATTR

        engine = getattr(report, ENGINE_ATTR, None)
        stats = json.loads(engine) if engine else self.runtime.engine_stats()
        self.progress.record(result, getattr(report, "worker_id", None) or str(getattr(report, "node", "main")), stats)
        reporter = self._config.pluginmanager.get_plugin("terminalreporter") if self._config else None
        if reporter is not None and self.progress.due():
            writer = getattr(reporter, "_tw", None)
            if getattr(writer, "width_of_current_line", 0):  # xdist's dots do not end their line
                reporter.write("\n")
            for line in self.progress.lines():
                reporter.write_line(line, cyan=True)

    def finish(self, session: pytest.Session) -> None:
        """Decide (the verdict, baseline comparison), then write: the baseline when accepted, the
        report folder, the GitHub step summary and pytest's own JUnit properties."""
        if not self.results:
            return
        from .report.document import build_document, sample_records, write_report_dir, write_step_summary
        from .results.conclude import accept_baseline, conclude

        conclusion = self.conclusion = conclude(self.results.values(), self.settings())
        if conclusion.write_baseline or conclusion.obtained is not None:
            assert self.options.baseline is not None  # conclude writes only where a baseline was named
            accept_baseline(conclusion, self.options.baseline)
        self.document = build_document(self.run_info(), conclusion)
        samples = sample_records(conclusion)
        if self.options.report_dir is not None:
            write_report_dir(self.options.report_dir, self.document, conclusion, samples)
        write_step_summary(self.document, samples)
        self._junit_properties(session.config)
        if conclusion.failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def settings(self) -> Settings:
        from .results.conclude import Settings

        o = self.options
        return Settings(models=tuple(m.name for m in self.runtime.models), latency_gates=dict(o.latency_gates),
                        gate=o.gate, max_unparsed=o.max_unparsed, baseline=o.baseline, update_baseline=o.update_baseline,
                        regression_tolerance=o.regression_tolerance,
                        regression_significance=o.regression_significance, sharded=o.shard is not None)

    def _junit_properties(self, config: pytest.Config) -> None:
        """Per-subject scores as global properties of pytest's own ``--junitxml`` report."""
        from _pytest.junitxml import xml_key

        xml = config.stash.get(xml_key, None)
        if xml is None:
            return
        from .report.junit import suite_properties

        for name, value in suite_properties(self.document):
            xml.add_global_property(name, value)

    def run_info(self) -> dict[str, Any]:
        from importlib.metadata import version

        versions: dict[str, dict[str, str]] = {}
        for r in self.results.values():
            versions.setdefault(r.suite, {})[r.subject] = r.version
        return {
            "models": [m.public() for m in self.runtime.models],
            "options": self.options.public(),
            "versions": {"pytest_llmeval": version("pytest-llmeval"), "pytest": pytest.__version__, "suites": versions},
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - self._t0, 3),
            "environment": {"python": sys.version.split()[0], "platform": platform.platform(), "host": socket.gethostname()},
        }

    def terminal(self, reporter: Any) -> None:
        if self.conclusion is None:
            return
        from .report.document import summary_block
        from .report.latency import latency_lines
        from .report.progress import request_lines

        reporter.write_sep("=", f"llmeval summary: {', '.join(m.name for m in self.runtime.models)}")
        for text, markup in summary_block(self.conclusion, self.document, self.options.flips_shown):
            reporter.write_line(text, **markup)
        for text in request_lines(self.results.values(), time.perf_counter() - self._t0):
            reporter.write_line(text)
        for text in latency_lines(self.conclusion.summary.latency):
            reporter.write_line(text)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


CONTROLLER = pytest.StashKey[Controller]()
