"""Headless Chromium for tests that open report.html as a person would: Debian's ``/usr/bin/chromium``
driven by playwright, never a browser playwright downloads (CI runners have no network for that).

Tests that need it take the ``browser`` fixture (one browser per test module: starting Chromium
costs about a second) and carry ``requires_chromium``. Without ``/usr/bin/chromium`` (or without
the ``playwright`` package) they skip with a reason, except under ``CI=true``: there the fixture
fails them, because CI must never go green by skipping the browser tests (the same rule as
``_shared_data``). Install with ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["CHROMIUM", "Opened", "browser", "open_report", "requires_chromium"]

_EXECUTABLE = Path(os.environ.get("LLMEVAL_CHROMIUM") or "/usr/bin/chromium")
_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
_IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _missing() -> str | None:
    if not _EXECUTABLE.is_file():
        return f"{_EXECUTABLE} not found; apt-get install -y chromium chromium-driver (or set LLMEVAL_CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing; pip install -e '.[test]'"
    return None


_REASON = _missing()
CHROMIUM: Path | None = None if _REASON else _EXECUTABLE

# Under CI a missing browser does not skip: the fixture below fails each test with the reason.
requires_chromium = pytest.mark.skipif(_REASON is not None and not _IN_CI, reason=str(_REASON))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test module."""
    if _REASON is not None:
        pytest.fail(f"CI=true and the browser tests cannot run: {_REASON}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(_EXECUTABLE), args=_ARGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    """A page and everything that went wrong on it: console errors, uncaught exceptions, dialogs
    (an ``alert()`` means injected script ran) and requests that left the file (it must load nothing)."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.page_errors == [], self.page_errors
        assert self.dialogs == [], self.dialogs
        assert self.requests == [], self.requests

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def search(self, term: str, status: str = "", rule: str = "") -> int:
        """Type ``term`` in the sample search, pick ``status`` and ``rule``; the number of rows once
        the table shows them."""
        self.page.fill("#sample-search", term)
        self.page.select_option("#sample-status", status)
        self.page.select_option("#sample-rule", rule)
        self.page.wait_for_function(
            "([q, s, r]) => { const t = document.getElementById('samples-table');"
            " return t.dataset.query === q && t.dataset.status === s && t.dataset.rule === r; }",
            arg=[term, status, rule])
        return self.count("#samples-table tbody tr")


@contextlib.contextmanager
def open_report(browser: Browser, path: Path) -> Iterator[Opened]:
    """Open ``path`` via file:// in a fresh context (no state shared between tests); close it afterwards."""
    context = browser.new_context()
    context.set_default_timeout(10_000)  # a page this small that needs longer is broken
    page = context.new_page()
    opened = Opened(page)
    page.on("console", lambda message: _console(opened, message))
    page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
    page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: _request(opened, request.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    try:
        yield opened
    finally:
        context.close()


def _console(opened: Opened, message: Any) -> None:
    if message.type == "error":
        opened.console_errors.append(message.text)


def _request(opened: Opened, url: str) -> None:
    if not url.startswith(("file:", "data:", "about:")):
        opened.requests.append(url)
