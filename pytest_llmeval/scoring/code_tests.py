"""``task: code``: the reply's program run against the problem's tests, in the sandbox.

The sample's fields hold the problem, as HumanEval writes it: ``prompt`` (the signature and
docstring the model completes), ``test`` (source defining ``check(candidate)``), ``entry_point``
(the function's name) and an optional ``setup`` (imports or helpers the tests need). The program
is built by ``code.py`` from either shape of reply (a completion, or a chat answer with the whole
function), and run by ``sandbox.run_python``; the sample passes when ``check(entry_point)`` runs
to its end.

``extracted`` is the code that was tested; ``rule`` is ``tests passed`` or the execution's status
and reason (``timeout: no result within ...``, ``failed: AssertionError (line 12)``), so
samples.jsonl says why each sample missed. A sandbox that cannot start raises ``SandboxError``:
the caller makes that the sample's error, never a miss.

``scoring:`` keys: ``timeout_s`` (wall time per execution, default 10) and ``memory_mb`` (per
process, default 512). Whether a run may fall back to an unsandboxed subprocess is the run's
decision (``--llm-unsafe-exec``), never a suite's: the run sets ``UNSAFE_EXEC`` on the threads
that execute its code; everywhere else the sandbox is used.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from ..errors import ConfigError
from ..sandbox import Limits, run_python
from .code import check_program, code_from_reply
from .scored import Gold, Scored

__all__ = ["OPTIONS", "PASSED", "UNSAFE_EXEC", "check_options", "read_gold", "score"]

PASSED = "tests passed"
OPTIONS = frozenset({"timeout_s", "memory_mb"})

UNSAFE_EXEC: ContextVar[bool] = ContextVar("llmeval_unsafe_exec", default=False)
"""True only on the run's execution threads, and only when ``--llm-unsafe-exec`` was given on a
machine without a sandbox: code then runs in a plain subprocess (``sandbox.run_python(unsafe=True)``)."""

_FIELDS = ("prompt", "test", "entry_point")
_DEFAULT = Limits()


def check_options(options: Mapping[str, Any]) -> None:
    for key, kind in (("timeout_s", (int, float)), ("memory_mb", (int,))):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind) or value <= 0):
            raise ConfigError(f"expected a positive {'number of seconds' if key == 'timeout_s' else 'whole number'}, "
                              f"got {value!r}", key=f"scoring.{key}")


def limits(options: Mapping[str, Any]) -> Limits:
    """The sandbox limits for one execution: the defaults, with the suite's wall time and memory."""
    wall = float(options.get("timeout_s", _DEFAULT.wall_s))
    return Limits(wall_s=wall, cpu_s=min(_DEFAULT.cpu_s, wall), memory_mb=int(options.get("memory_mb", _DEFAULT.memory_mb)))


def read_gold(gold: Gold) -> str:
    """Checked at collection: the problem's fields are there and its test defines ``check``. The
    gold answer itself is optional (a reference solution, shown in the reports, never compared)."""
    problem(gold)
    return gold.target


def problem(gold: Gold) -> tuple[str, str, str, str]:
    """``(prompt, test, entry_point, setup)`` from the sample's fields; ValueError naming the field."""
    fields = gold.fields
    for name in _FIELDS:
        if not isinstance(fields.get(name), str) or not fields[name].strip():
            raise ValueError(f"field {name!r} has no text (task code needs prompt, test and entry_point; "
                             f"map them with fields.{name})")
    entry_point = fields["entry_point"].strip()
    if not entry_point.isidentifier():
        raise ValueError(f"entry_point {entry_point!r} is not a Python function name")
    setup = fields.get("setup") or ""
    if not isinstance(setup, str):
        raise ValueError(f"field 'setup' holds {type(setup).__name__}, expected Python source")
    _check_test(fields["test"])
    return fields["prompt"], fields["test"], entry_point, setup


def _check_test(test: str) -> None:
    try:
        tree = ast.parse(test)
    except SyntaxError as exc:
        raise ValueError(f"field 'test' is not valid Python ({exc.msg} at its line {exc.lineno})") from None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "check" for node in tree.body):
        raise ValueError("field 'test' defines no check(candidate) function")


def score(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    """Run the reply's program; raises ``SandboxError`` when no program can run here."""
    prompt, test, entry_point, setup = problem(gold)
    code = code_from_reply(prompt, reply, entry_point)
    execution = run_python(check_program(code, test, entry_point, setup), limits=limits(options),
                           unsafe=UNSAFE_EXEC.get())
    return Scored(code, execution.passed, PASSED if execution.passed else f"{execution.status}: {execution.reason}")
