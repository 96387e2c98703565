"""pytest-llmeval's hooks. Each one only delegates; importing this module stays cheap (no SDKs,
no pandas) because every pytest run in the environment pays for it."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import options
from .errors import ConfigError

MARKERS = (
    "llmeval: an LLM evaluation sample (added to every suite item)",
    "llm_dataset(path, subject=None, format=None, fields=None, split=None, limit=None): parametrise `sample` over a data file",
    "llm_threshold(score): minimum accuracy of the test's subject",
)


@pytest.hookimpl
def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    from .controller import CONTROLLER, Controller
    from .profiles import find_profile_files, resolve_models
    from .runtime import RUNTIME, Runtime

    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    opts = options.read_options(config)
    files = [opts.models_file] if opts.models_file else find_profile_files(
        config.inipath, config.rootpath, list(config.args), config.invocation_params.dir)
    try:
        models = resolve_models(opts, files)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RUNTIME] = Runtime(options=opts, models=models)
    if _is_controller(config):
        controller = Controller(options=opts, models=models)
        controller.open()
        config.stash[CONTROLLER] = controller
        config.pluginmanager.register(controller, "llmeval-controller")


@pytest.hookimpl
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .suites.collect import SUFFIX, SuiteFile

    if file_path.name.endswith(SUFFIX):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from .python_tests import parametrize

    parametrize(metafunc)


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> Any:
    """The model under evaluation; tests using it run once per ``--llm-model``."""
    from .python_tests import llm_client

    return llm_client(request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    from .attach import attach_result
    from .runtime import RUNTIME

    report = yield
    attach_result(item, call, report, item.config.stash[RUNTIME].options.strict)
    return report


@pytest.hookimpl
def pytest_report_teststatus(report: pytest.TestReport) -> Any:
    from .outcome import report_status

    return report_status(report)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    from .controller import CONTROLLER

    controller = session.config.stash.get(CONTROLLER, None)
    if controller is not None:
        controller.finish(session)


@pytest.hookimpl
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .controller import CONTROLLER

    controller = config.stash.get(CONTROLLER, None)
    if controller is not None:
        controller.terminal(terminalreporter)


@pytest.hookimpl
def pytest_unconfigure(config: pytest.Config) -> None:
    from .controller import CONTROLLER
    from .runtime import RUNTIME

    controller = config.stash.get(CONTROLLER, None)
    if controller is not None:
        controller.close()
    runtime = config.stash.get(RUNTIME, None)
    if runtime is not None:
        runtime.close()
