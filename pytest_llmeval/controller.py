"""The controller's side of a run: gather results as reports arrive, decide, write, render.

Runs only in the process that owns the terminal (never in an xdist worker). Deciding happens in
``pytest_sessionfinish`` so the verdict holds under ``-p no:terminal``; rendering is separate.
samples.jsonl is appended per report, so a crash or Ctrl-C keeps every finished sample.

What the run could not do is part of the verdict, never only a log line: a journal that stopped
recording, a report file that could not be written, a run interrupted (Ctrl-C, or SIGTERM, which
the controller turns into the same orderly stop) before every sample was answered. Each is a
failure line, so the exit status is non-zero and results.json does not say ``passed``.

An xdist worker that dies (a crash in a model's native code) takes no sample with it: the sample
it was running is reported as an error from what its setup report announced, its model is marked
in the run's shared folder so that no process asks it again (the rest of its samples become
errors at once, instead of crashing one replacement worker after another), and items that never
ran at all are one failure line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ConfigError, reason
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
    problems: list[str] = field(default_factory=list)  # what the run could not do: failures of the run
    notes: list[str] = field(default_factory=list)  # worth saying, not failing
    _journal_checked: bool = False
    _sigterm: Any = None  # the SIGTERM handler this controller replaced, to restore
    # xdist only: what each worker started, so that a worker's death loses no sample
    _started: dict[str, SampleResult] = field(default_factory=dict)  # nodeid -> the sample before its answer
    _running: dict[str, str | None] = field(default_factory=dict)  # worker id -> the sample it last started
    _collected: list[str] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set)
    crashed_workers: list[str] = field(default_factory=list)
    code_execution: str | None = None  # "sandbox" or "unsafe" once a run with a code task checked

    def open(self, config: pytest.Config) -> None:
        from .report.progress import Progress

        self.progress = Progress(interval_s=self.options.progress_s if config.get_verbosity() >= 0 else 0.0)
        self._config = config
        if self.options.report_dir is not None:
            self._writer = _samples_writer(self.options.report_dir)
        self._catch_sigterm()

    def _catch_sigterm(self) -> None:
        """SIGTERM (a CI job cancelled, ``docker stop``) stops the run as Ctrl-C does: the summary
        and reports of what was answered are written, and the run fails as interrupted. Only when
        nobody else handles SIGTERM, and only in the main thread, where Python can."""
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)

    @pytest.hookimpl(tryfirst=True)  # a dead worker's sample becomes an error before others read its report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Each sample's payload as its report arrives, from this process or an xdist worker."""
        from .attach import JOURNAL_ATTR

        self._reported.add(report.nodeid)
        if report.when == "setup":
            self._track_start(report)
        result = result_of(report) or self._died_in(report)
        if result is None:
            return
        self._journal_failed(getattr(report, JOURNAL_ATTR, None))
        self.results[result.key] = result
        self._write_sample(result)
        self._show_progress(result, report)

    def _write_sample(self, result: SampleResult) -> None:
        if self._writer is None:
            return
        try:
            self._writer.write(result)
        except OSError as exc:  # a full disk: the run goes on, and fails saying what was not written
            self.problems.append(f"{self._writer.path}: could not write sample {len(self.results)} and after "
                                 f"({reason(exc)}); the samples are incomplete")
            with contextlib.suppress(OSError):  # its buffer cannot be written either
                self._writer.close()
            self._writer = None

    def _journal_failed(self, failure: str | None) -> None:
        if failure is None or any(failure in line for line in self.problems):
            return
        self.problems.append(f"the journal stopped recording ({failure}): replies after that were not journaled, "
                             "so an interrupted run cannot resume them (a rerun asks for them again)")

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if any(item.get_closest_marker("llmeval") or {"llm", "sample"} & set(getattr(item, "fixturenames", ()))
               for item in session.items):  # checked first: resolving models costs an import
            self.progress.count_items((item.nodeid for item in session.items), [m.name for m in self.runtime.models])
            self._check_journal(session.config)
            self._check_sandbox(session.config, [item.nodeid for item in session.items])

    def _track_start(self, report: pytest.TestReport) -> None:
        from .attach import STARTED_ATTR

        payload = getattr(report, STARTED_ATTR, None)
        if payload is not None:
            self._started[report.nodeid] = SampleResult.from_json(payload)
        self._running[_worker_of(report)] = report.nodeid if payload is not None else None

    def _died_in(self, report: pytest.TestReport) -> SampleResult | None:
        """xdist's report for the item a worker died in (not a phase of ours): that sample's error."""
        started = self._started.get(report.nodeid)
        if started is None or not report.failed or report.when in ("setup", "call", "teardown"):
            return None
        from .results.payload import PAYLOAD_ATTR

        result = replace(started, error=f"xdist worker {_worker_of(report)} died while running this sample "
                                        "(a crash in the backend's native code, or a kill)")
        setattr(report, PAYLOAD_ATTR, result.to_json())  # the terminal, JUnit and the reports see an error
        return result

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker died: its model is not asked again in this run, by any process."""
        if error is None:
            return
        worker = str(node.gateway.id)
        self.crashed_workers.append(worker)
        started = self._started.get(self._running.get(worker) or "")
        if started is not None:
            self.runtime.shared.mark_crashed(started.model, (
                f"not run: xdist worker {worker} died while running {started.model}'s sample {started.suite}/"
                f"{started.subject} id={started.id} earlier in this run (a crash in the backend's native code, or "
                "a kill), so no process asks that model again; rerun to go on (answered samples come from the "
                "journal)"))

    def _never_ran(self) -> list[str]:
        """After a worker died, the items xdist never ran (it stops replacing workers after
        --max-worker-restart): the run measured less than it was asked to."""
        missing = [nodeid for nodeid in self._collected if nodeid not in self._reported] if self.crashed_workers else []
        if not missing:
            return []
        return [f"{len(missing)} item(s) never ran after xdist worker(s) {', '.join(self.crashed_workers)} died "
                f"(first: {missing[0]})"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        from .identity import is_suite_nodeid

        if not self._collected:
            self._collected = list(ids)
        if self.progress.totals or not (self.options.models or any(map(is_suite_nodeid, ids))):
            return  # every worker collects the same items: count them once
        self.progress.count_items(ids, [m.name for m in self.runtime.models])
        self._check_journal(node.config)
        self._check_sandbox(node.config, ids)

    def _check_journal(self, config: pytest.Config) -> None:
        """Open the journal before any sample runs (and before xdist workers open it too): it
        opens, or the run stops with the one line that says why; a corrupt or foreign file is set
        aside first, and said so."""
        if self._journal_checked or config.option.collectonly:
            return
        self._journal_checked = True
        from .errors import ConfigError

        try:
            store = self.runtime.store()
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        if store is not None and store.set_aside:
            self.notes.append(store.set_aside)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"pytest-llmeval: {store.set_aside}", yellow=True)

    def _check_sandbox(self, config: pytest.Config, nodeids: list[str]) -> None:
        """Once per run, before any item runs: a run with a code task needs the sandbox, or
        ``--llm-unsafe-exec`` (then said in the summary's notes and in results.json)."""
        from .suites.executions import runs_code, sandbox_refusal

        if self.code_execution is not None or config.option.collectonly or not runs_code(nodeids, config.rootpath):
            return
        refusal, warning = sandbox_refusal(self.options.unsafe_exec)
        if refusal is not None:
            pytest.exit(refusal, returncode=pytest.ExitCode.USAGE_ERROR)
        self.code_execution = "unsafe" if warning else "sandbox"
        if warning is not None:
            self.notes.append(warning)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"pytest-llmeval: {warning}", yellow=True, bold=True)

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

        self._journal_failed(self.runtime.journal_failure())
        conclusion = self.conclusion = conclude(self.results.values(), self.settings())
        conclusion.failures.extend(self.problems + _stopped_early(session, len(self.results)))
        split = self.runtime.limits_split_note()
        conclusion.notes[:0] = self.notes + ([split] if split else [])
        conclusion.failures.extend(self._never_ran())
        if conclusion.write_baseline or conclusion.obtained is not None:
            assert self.options.baseline is not None  # conclude writes only where a baseline was named
            _written(conclusion.failures, f"baseline {self.options.baseline}",
                     lambda: accept_baseline(conclusion, self.options.baseline))  # type: ignore[arg-type]
        self.document = build_document(self.run_info(), conclusion)
        samples = sample_records(conclusion)
        if self.options.report_dir is not None:
            _written(conclusion.failures, f"--llm-report-dir {self.options.report_dir}",
                     lambda: write_report_dir(self.options.report_dir, self.document, conclusion, samples))  # type: ignore[arg-type]
        _written(conclusion.failures, "GITHUB_STEP_SUMMARY", lambda: write_step_summary(self.document, samples))
        self._junit_properties(session.config)
        if conclusion.failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def settings(self) -> Settings:
        from dataclasses import replace

        models = list(self.runtime.models)
        for name in dict.fromkeys(str(r.judge["model"]) for r in self.results.values() if r.judge):
            try:  # a judge's tokens are counted under its name, and priced by its profile
                models.append(self.runtime.judge(name))
            except ConfigError:
                continue
        return replace(self.options.settings([m.name for m in self.runtime.models]),
                       prices={m.name: m.price.record() for m in models if m.price is not None})

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
            "options": self.options.public() | {"prices": self.settings().to_record()["prices"]},
            "versions": {"pytest_llmeval": version("pytest-llmeval"), "pytest": pytest.__version__, "suites": versions},
            "started": self.started.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - self._t0, 3),
            **({"code_execution": self.code_execution} if self.code_execution else {}),
            **({"concurrency": adaptive} if (adaptive := self.runtime.concurrency_summaries()) else {}),
            "environment": {"python": sys.version.split()[0], "platform": platform.platform(), "host": socket.gethostname()},
        }

    def terminal(self, reporter: Any) -> None:
        if self.conclusion is None:
            return
        from .report.document import terminal_summary
        from .report.progress import request_lines

        reporter.write_sep("=", f"llmeval summary: {', '.join(m.name for m in self.runtime.models)}")
        requests = request_lines(self.results.values(), time.perf_counter() - self._t0)
        for text, markup in terminal_summary(self.conclusion, self.document, self.options.flips_shown, requests):
            reporter.write_line(text, **markup)

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):  # said already, when a write failed
                self._writer.close()
            self._writer = None
        if self._sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None


def _worker_of(report: pytest.TestReport) -> str:
    """The xdist worker a report came from ("gw0"); "main" without xdist."""
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return str(getattr(report, "worker_id", None) or getattr(gateway, "id", None) or "main")


CONTROLLER = pytest.StashKey[Controller]()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _samples_writer(folder: Path) -> Any:
    """samples.jsonl in the report folder, or the usage error that names the folder and why."""
    from .report.files import FolderBusy, SamplesWriter

    try:
        folder.mkdir(parents=True, exist_ok=True)
        return SamplesWriter(folder / "samples.jsonl")
    except FolderBusy:
        raise pytest.UsageError(f"--llm-report-dir {folder}: another pytest run is writing this folder; "
                                "give each run its own") from None
    except OSError as exc:
        raise pytest.UsageError(f"--llm-report-dir {folder}: cannot write there ({reason(exc)})") from None


def _written(failures: list[str], what: str, write: Callable[[], None]) -> None:
    """Run ``write``; a failure to write is a failure of the run, with one line, never a traceback."""
    try:
        write()
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        failures.append(f"{what}: could not write{where} ({reason(exc)})")


def _stopped_early(session: pytest.Session, answered: int) -> list[str]:
    """An interrupted run measured less than it was asked to: say so, so the results it wrote are
    never read as a passing run. (A run stopped by ``-x`` or a refused key has failed already.)"""
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:
        return [f"the run stopped before all its samples ran ({answered} reported): these results are partial"]
    return []
