"""One error tree: every exception a user can see derives from LLMEvalError, and one helper gives its line."""

from __future__ import annotations

import ast
import errno
import importlib
from pathlib import Path

import pytest

import pytest_llmeval
from pytest_llmeval import errors
from pytest_llmeval.errors import Cancelled, ConfigError, LLMEvalError, one_line

PACKAGE = Path(pytest_llmeval.__file__).parent

# Exceptions that never reach a user: each is caught in the module named and turned into one of the
# tree's (or, for WrongAnswer, is pytest's own failure of a missed sample under --llm-strict).
INTERNAL = {
    "item_outcome.WrongAnswer", "report.files.FolderBusy", "yamlfile.DuplicateKeyError",
    "backends.openai.logprobs.EndpointRefused",
}


def _exception_classes() -> list[str]:
    """``module.Class`` for every non-private class the package defines that is an exception."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and node.bases:
                value = getattr(importlib.import_module(f"pytest_llmeval.{module}"), node.name)
                if isinstance(value, type) and issubclass(value, BaseException):
                    found.append(f"{module}.{node.name}")
    return found


def test_every_exception_a_user_can_see_is_in_the_tree() -> None:
    outside = []
    for name in _exception_classes():
        module, _, cls = name.rpartition(".")
        if name not in INTERNAL and not issubclass(getattr(importlib.import_module(f"pytest_llmeval.{module}"), cls),
                                                   LLMEvalError):
            outside.append(name)
    assert outside == []
    assert {"results.latency_gates.GateError", "results.baseline.BaselineError", "merge.MergeError"} <= set(_exception_classes())


@pytest.mark.parametrize("name", ["results.latency_gates.GateError", "results.baseline.BaselineError", "merge.MergeError"])
def test_input_errors_are_config_errors_and_still_value_errors(name: str) -> None:
    module, _, cls = name.rpartition(".")
    error = getattr(importlib.import_module(f"pytest_llmeval.{module}"), cls)
    assert issubclass(error, ConfigError) and issubclass(error, ValueError)


def test_gate_error_names_its_key() -> None:
    from pytest_llmeval.results.latency_gates import GateError, check_gates

    with pytest.raises(GateError) as info:
        check_gates({"ttft_p95": 5})
    assert info.value.key == "ttft_p95" and str(info.value).startswith("ttft_p95: expected <metric>_p")


def test_cancelled_is_in_errors_and_the_engine_still_names_it() -> None:
    from pytest_llmeval.engine import retry

    assert retry.Cancelled is Cancelled and issubclass(Cancelled, errors.BackendError)


@pytest.mark.parametrize(("exc", "line"), [
    (ConfigError("expected a number", where="s.llmeval.yaml:3", key="limit"), "s.llmeval.yaml:3: limit: expected a number"),
    (errors.BackendError("HTTP 500:\n  upstream\tfailed"), "HTTP 500: upstream failed"),
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (KeyError("choices"), "KeyError: 'choices'"),
    (RuntimeError(), "RuntimeError"),
    (ValueError("x" * 400), "ValueError: " + "x" * 288),
])
def test_one_line(exc: BaseException, line: str) -> None:
    assert one_line(exc) == line


@pytest.mark.parametrize(("exc", "words", "named"), [
    (OSError(errno.EISDIR, "Is a directory", "data.csv"), "Is a directory", "Is a directory"),
    (ValueError("Error tokenizing data. C error: Expected 5 fields\nmore"), "Error tokenizing data. C error: Expected 5 fields",
     "ValueError: Error tokenizing data. C error: Expected 5 fields"),
    (RuntimeError(), "RuntimeError", "RuntimeError"),
])
def test_detail_and_reason_give_a_foreign_errors_few_words(exc: BaseException, words: str, named: str) -> None:
    """detail for a line that already names the step ("cannot read CSV (...)"), reason with the class."""
    assert errors.detail(exc) == words and errors.reason(exc) == named
