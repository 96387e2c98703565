"""HumanEval in the sandbox: the 164 canonical solutions pass, and each with one deliberate bug fails.

Both run the way samples will: the canonical solution is the reply (a completion of the prompt),
``code_from_reply`` and ``check_program`` build the program, ``run_python`` runs it, in parallel.
The bugs are made programmatically: one AST change at one site of the solution (a comparison,
arithmetic or boolean operator swapped, an integer moved by one, a ``not`` dropped, a string
changed, ``min`` for ``max``, ``upper`` for ``lower``..., or a ``return`` of None). Some
mutants are equivalent or escape the tests, so each problem tries its sites in order until one
fails; every problem must have one.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

import pytest

from pytest_llmeval.data.humaneval import HumanEvalProblem, read_humaneval
from pytest_llmeval.sandbox import Execution, Limits, run_python
from pytest_llmeval.scoring.code import check_program, code_from_reply
from tests._sandbox import in_parallel, requires_sandbox
from tests._shared_data import SHARED_DATA, requires_shared_data

pytestmark = [requires_sandbox, requires_shared_data]

MUTANT_LIMITS = Limits(wall_s=10, cpu_s=2)  # some mutants loop forever: let the CPU limit end them early

_SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.And: ast.Or, ast.Or: ast.And,
}
_NAMES = {"int": "float", "set": "list", "sorted": "list", "min": "max", "max": "min", "any": "all", "all": "any"}
_METHODS = {"lower": "upper", "upper": "lower", "swapcase": "lower", "startswith": "endswith",
            "endswith": "startswith", "isupper": "islower", "islower": "isupper"}


@pytest.fixture(scope="module")
def problems() -> list[HumanEvalProblem]:
    assert SHARED_DATA is not None
    return read_humaneval(SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz")


def _run(problem: HumanEvalProblem, solution: str, limits: Limits = Limits()) -> Execution:
    code = code_from_reply(problem.prompt, solution, problem.entry_point)
    return run_python(check_program(code, problem.test, problem.entry_point), limits=limits)


def test_the_164_canonical_solutions_pass(problems: list[HumanEvalProblem]) -> None:
    assert len(problems) == 164
    executions = in_parallel(lambda p: _run(p, p.canonical_solution or ""), problems)
    failed = {p.task_id: f"{e.status}: {e.reason}" for p, e in zip(problems, executions) if not e.passed}
    assert failed == {}
    assert all(e.sandboxed for e in executions)


def test_each_canonical_solution_with_one_bug_fails(problems: list[HumanEvalProblem]) -> None:
    sites = {p.task_id: _mutants(p) for p in problems}
    survivors = list(problems)
    tried = dict.fromkeys(sites, 0)
    killed: dict[str, Execution] = {}
    while survivors:
        batch = [(p, next(sites[p.task_id], None)) for p in survivors]
        without = [p.task_id for p, mutant in batch if mutant is None]
        assert without == [], f"no mutant of these solutions fails their tests: {without}"
        executions = in_parallel(lambda pm: _run(pm[0], pm[1] or "", MUTANT_LIMITS), batch)
        for (problem, _), execution in zip(batch, executions):
            tried[problem.task_id] += 1
            if not execution.passed:
                killed[problem.task_id] = execution
        survivors = [p for p in survivors if p.task_id not in killed]
    assert sorted(killed) == sorted(sites)
    assert all(e.status in ("failed", "timeout", "oom", "killed") and e.reason for e in killed.values())
    assert sum(tried.values()) < 3 * len(problems)  # the first site nearly always fails; the loop is a fallback


def _mutants(problem: HumanEvalProblem) -> Iterator[str]:
    """The solution with one change, site by site in source order, as a completion of the prompt."""
    source = problem.prompt + (problem.canonical_solution or "")
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point)
    count = len(_sites(function))
    for index in range(count):
        mutant = copy.deepcopy(tree)
        target = next(n for n in mutant.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point)
        _mutate(target, index)
        yield "```python\n" + ast.unparse(mutant) + "\n```"  # a chat answer repeating the whole prompt


def _sites(function: ast.FunctionDef) -> list[tuple[ast.AST, str]]:
    """Operator and constant sites first, in source order; then strings, builtins and methods that
    have a natural wrong twin; last, each ``return`` (made to return None), for a solution with
    no other site (``return len(string)``)."""
    nodes = [n for n in ast.walk(function) if not (n is function.body[0] and isinstance(n, ast.Expr))]  # no docstring
    sites: list[tuple[ast.AST, str]] = []
    for node in nodes:
        if isinstance(node, ast.Compare):
            sites += [(node, f"cmp{i}") for i, op in enumerate(node.ops) if type(op) in _SWAPS]
        elif isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in _SWAPS:
            sites.append((node, "op"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((node, "not"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((node, "int"))
    sites += [(n, "str") for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sites += [(n, "name") for n in nodes if isinstance(n, ast.Name) and n.id in _NAMES]
    sites += [(n, "attr") for n in nodes if isinstance(n, ast.Attribute) and n.attr in _METHODS]
    return sites + [(n, "return") for n in nodes if isinstance(n, ast.Return) and n.value is not None]


def _mutate(function: ast.FunctionDef, index: int) -> None:
    node, kind = _sites(function)[index]
    if kind.startswith("cmp"):
        assert isinstance(node, ast.Compare)
        node.ops[int(kind[3:])] = _SWAPS[type(node.ops[int(kind[3:])])]()  # type: ignore[assignment]
    elif kind == "op":
        assert isinstance(node, (ast.BinOp, ast.BoolOp))
        node.op = _SWAPS[type(node.op)]()  # type: ignore[assignment]
    elif kind == "not":
        assert isinstance(node, ast.UnaryOp)
        _replace_with_operand(function, node)
    elif kind in ("int", "str"):
        assert isinstance(node, ast.Constant)
        node.value = node.value + (1 if kind == "int" else "x")
    elif kind == "name":
        assert isinstance(node, ast.Name)
        node.id = _NAMES[node.id]
    elif kind == "attr":
        assert isinstance(node, ast.Attribute)
        node.attr = _METHODS[node.attr]
    else:
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)


def _replace_with_operand(function: ast.FunctionDef, node: ast.UnaryOp) -> None:
    """``not x`` becomes ``x``: the parent's field that held the UnaryOp now holds its operand."""
    for parent in ast.walk(function):
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, node.operand)
            elif isinstance(value, list) and node in value:
                value[value.index(node)] = node.operand
