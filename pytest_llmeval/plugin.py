"""pytest-llmeval's hooks. Each one only delegates; importing this module stays cheap (no SDKs,
no pandas) because every pytest run in the environment pays for it."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import options
from .identity import SUITE_SUFFIX, identify_test

MARKERS = (
    "llmeval: an LLM evaluation sample (added to every suite item)",
    "llm_dataset(path, subject=None, format=None, fields=None, split=None, limit=None): parametrise `sample` over a data file",
    "llm_examples(n, **strategies): parametrise the test's arguments over n examples drawn from hypothesis strategies",
    "llm_example(meta): one drawn example of llm_examples (set by the plugin)",
    "llm_threshold(score): minimum accuracy of the test's subject",
    "llm_latency(**gates): latency gates of the test module's samples, e.g. llm_latency(ttft_p95_ms=500, e2e_p99_ms=3000)",
)


@pytest.hookimpl
def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    from .controller import CONTROLLER, Controller
    from .runtime import RUNTIME, build_runtime

    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    runtime = config.stash[RUNTIME] = build_runtime(config)
    if _is_controller(config):
        controller = Controller(options=runtime.options, runtime=runtime)
        controller.open(config)
        config.stash[CONTROLLER] = controller
        config.pluginmanager.register(controller, "llmeval-controller")


@pytest.hookimpl
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.name.endswith(SUITE_SUFFIX):  # checked before importing: runs for every file
        return None
    from .suites.collect import SuiteFile

    return SuiteFile.from_parent(parent, path=file_path)


@pytest.hookimpl
def pytest_itemcollected(item: pytest.Item) -> None:
    identify_test(item)


@pytest.hookimpl
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("llm" not in metafunc.fixturenames and "sample" not in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("llm_examples") is None):
        return  # checked before importing: runs for every test function
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
    attach_result(item, call, report, item.config.stash[RUNTIME])
    return report


@pytest.hookimpl(trylast=True)  # after -k and -m: every job splits the same selection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from .runtime import RUNTIME

    shard = config.stash[RUNTIME].options.shard
    if shard is not None:
        from .shard import apply_shard

        apply_shard(config, items, *shard)


@pytest.hookimpl
def pytest_report_teststatus(report: pytest.TestReport) -> Any:
    from .item_outcome import report_status

    return report_status(report)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from .runtime import RUNTIME

    if not config.stash[RUNTIME].shared.own_scheduler:
        return None
    from .suites.scheduler import make_scheduler

    return make_scheduler(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    from .runtime import RUNTIME, WORKERINPUT_KEY

    node.workerinput[WORKERINPUT_KEY] = node.config.stash[RUNTIME].shared.for_worker()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    from .controller import CONTROLLER
    from .runtime import RUNTIME

    runtime = session.config.stash.get(RUNTIME, None)
    if runtime is not None:
        runtime.stop()

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
