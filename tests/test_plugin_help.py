"""``pytest --help`` with the plugin installed: every option and ini twin is listed, and no help text
breaks argparse (it %-formats option help, so "95% interval" once crashed it)."""

from __future__ import annotations

import pytest

from pytest_llmeval.options import _OPTIONS


def test_help_lists_every_option_and_ini_twin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    for flag, *_ in _OPTIONS:
        assert flag in text and flag[2:].replace("-", "_") in text
    assert "95% interval" in " ".join(text.split()) and "%%" not in text  # shown as written


def test_defaults_in_the_help_come_from_the_one_table(pytester: pytest.Pytester) -> None:
    from pytest_llmeval.ranges import RANGES

    text = " ".join(pytester.runpytest("--help").stdout.str().split())
    for key in ("retries", "timeout", "concurrency", "progress", "temperature", "regression_tolerance",
                "regression_significance", "flips"):
        flag = "--llm-" + key.replace("_", "-")
        template = next(help for f, _, help, _ in _OPTIONS if f == flag)
        assert "{default}" in template, flag
        assert f"(default {RANGES[key].default:g}" in text
    assert "(default 60;" not in text and "(default 60)" in text  # --llm-timeout, from 60.0


def test_the_backend_help_names_what_the_registry_accepts() -> None:
    """Written out in options.py (importing the registry there would load backends/ in every pytest
    run), so this holds it to the registry's own list."""
    from pytest_llmeval.backends.registry import ACCEPTED

    backend_help = next(help for flag, _, help, _ in _OPTIONS if flag == "--llm-backend")
    assert backend_help == ACCEPTED
