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
