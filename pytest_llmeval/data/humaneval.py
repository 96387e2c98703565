"""HumanEval: JSON Lines (OpenAI ships it gzipped) of code problems, one object per problem.

Keys, as in ``openai/human-eval``'s ``HumanEval.jsonl.gz``: ``task_id``, ``prompt`` (the
function's signature and docstring, with any imports and helpers before it), ``entry_point``
(the function's name), ``canonical_solution`` (a reference body) and ``test`` (source that
defines ``check(candidate)``). The sample is scored by running ``check(entry_point)``.

Every row is checked here, so a broken file fails with one line naming ``file:line`` and the
field before a single program runs: a missing or non-string field, an ``entry_point`` that is not
a Python name, a ``test`` that does not parse or defines no ``check``, a repeated ``task_id``,
and a file with no problems at all.
``canonical_solution`` may be absent (problems written for a suite need no reference answer).

As ``data.format: humaneval`` (``load_humaneval``), each problem is a sample of subject
``data.subject`` (default ``humaneval``) with id ``task_id``, and fields ``prompt``, ``test``,
``entry_point`` (what ``task: code`` runs) and ``task_id``; its answer is the canonical solution
(shown in the reports, never compared). ``data.path`` is the file, or a folder holding one
``*.jsonl.gz`` or ``*.jsonl`` file (``HumanEval.jsonl.gz``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..samples import Sample
from .readers import read_jsonl
from .spec import DataSpec

__all__ = ["HumanEvalProblem", "load_humaneval", "read_humaneval"]

_REQUIRED = ("task_id", "prompt", "entry_point", "test")


@dataclass(frozen=True, slots=True)
class HumanEvalProblem:
    """One problem; ``where`` is its ``file:line``, for messages about it later."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None
    where: str


def read_humaneval(path: str | Path) -> list[HumanEvalProblem]:
    """The problems of a ``.jsonl`` or ``.jsonl.gz`` file, in file order."""
    table = read_jsonl(Path(path))
    problems: list[HumanEvalProblem] = []
    seen: dict[str, str] = {}
    for index, row in enumerate(table.rows):
        problem = _problem(row, table.where(index))
        if problem.task_id in seen:
            raise DataError(f"task_id {problem.task_id!r} repeats the problem at {seen[problem.task_id]}",
                            where=problem.where, key="task_id")
        seen[problem.task_id] = problem.where
        problems.append(problem)
    if not problems:
        raise DataError("no problems in the file", where=str(path))
    return problems


def _problem(row: dict[str, Any], where: str) -> HumanEvalProblem:
    for key in _REQUIRED:
        if not isinstance(row.get(key), str):
            found = "missing" if key not in row else f"a {type(row[key]).__name__}"
            raise DataError(f"expected a string, found {found}", where=where, key=key)
    solution = row.get("canonical_solution")
    if solution is not None and not isinstance(solution, str):
        raise DataError(f"expected a string, found a {type(solution).__name__}", where=where, key="canonical_solution")
    if not row["entry_point"].isidentifier():
        raise DataError(f"expected a Python function name, found {row['entry_point']!r}", where=where,
                        key="entry_point")
    _check_test(row["test"], where)
    return HumanEvalProblem(task_id=row["task_id"], prompt=row["prompt"], entry_point=row["entry_point"],
                            test=row["test"], canonical_solution=solution, where=where)


def _check_test(test: str, where: str) -> None:
    try:
        tree = ast.parse(test)
    except SyntaxError as exc:
        raise DataError(f"not valid Python ({exc.msg} at line {exc.lineno} of the field)", where=where,
                        key="test") from None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "check" for node in tree.body):
        raise DataError("defines no check(candidate) function", where=where, key="test")


def load_humaneval(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    """The problems of ``data.path`` as samples of one subject (HumanEval has one split)."""
    subject = spec.subject or "humaneval"
    samples = [Sample(id=p.task_id, subject=subject, target=p.canonical_solution or "", origin=p.where,
                      fields={"task_id": p.task_id, "prompt": p.prompt, "test": p.test, "entry_point": p.entry_point,
                              "target": p.canonical_solution or ""})
               for p in read_humaneval(_problem_file(spec))]
    return {subject: samples}


def _problem_file(spec: DataSpec) -> Path:
    if spec.path.is_file():
        return spec.path
    if not spec.path.is_dir():
        raise DataError(f"no such file or folder: {spec.path}", where=spec.where or None, key="data.path")
    found = sorted(spec.path.glob("*.jsonl.gz")) or sorted(spec.path.glob("*.jsonl"))
    if len(found) != 1:
        what = "no *.jsonl.gz or *.jsonl file" if not found else f"{len(found)} problem files ({found[0].name}, ...)"
        raise DataError(f"{what} in {spec.path}; name the file in data.path", where=spec.where or None, key="data.path")
    return found[0]
