"""Imports only point down: each module's imports (read with ``ast``) against the layers that the
README's "Architecture" section draws. Data flows suite -> samples -> requests -> engine ->
backend -> replies -> scores -> payload -> aggregation -> verdict and reports; an import that runs
back up that chain is a seam in the wrong place.

Every import counts, a lazy one inside a function too (it runs all the same); only those under
``if TYPE_CHECKING:`` do not, since they never run. A new top-level module or package must be
given a layer here (and in the README) before this test passes.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import pytest_llmeval

PACKAGE = Path(pytest_llmeval.__file__).parent

# Lowest first. A module may import from its own layer and the layers below it; in a layer marked
# independent, its parts may not import one another (a backend knows nothing of scoring).
LAYERS: list[tuple[str, bool, frozenset[str]]] = [
    ("values and tools", False, frozenset({
        "errors", "messages", "samples", "identity", "ranges", "atomic", "machine", "profile_files", "yamlfile",
        "scrub", "sandbox", "sandbox_launcher", "moved"})),
    ("domain", True, frozenset({"data", "prompts", "scoring", "backends"})),
    ("machinery", True, frozenset({"engine", "results"})),
    ("settings and reports", False, frozenset({"options", "profiles", "report"})),
    ("the run", False, frozenset({
        "runtime", "suites", "python_tests", "property_tests", "item_outcome", "outcome", "shard", "attach", "controller", "merge", "doctor", "calibrate", "testing",
        "evaluate"})),
    ("entry points", False, frozenset({"plugin", "cli", "__main__", "__init__"})),
]
LAYER_OF = {part: (index, independent) for index, (_, independent, parts) in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """``pytest_llmeval.scoring.tasks`` -> ``scoring``; the package itself -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = ["pytest_llmeval", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported pytest_llmeval module) for every import of ``path`` that runs."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, target))
    return [(line, target) for line, target in found if target.split(".")[0] == "pytest_llmeval"]


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        here = _part(module)
        if here not in LAYER_OF:
            problems.append(f"{path.relative_to(PACKAGE)}: {here!r} has no layer (add it to LAYERS and the README)")
            continue
        layer, independent = LAYER_OF[here]
        for line, target in imports_of(path):
            there = _part(target)
            if there == here or there not in LAYER_OF:
                continue
            above = LAYER_OF[there][0] > layer
            if above or (independent and LAYER_OF[there][0] == layer):
                where = "a higher layer" if above else "an independent part of its own layer"
                problems.append(f"{path.relative_to(PACKAGE)}:{line}: imports {target} ({where}: "
                                f"{LAYERS[layer][0]} -> {LAYERS[LAYER_OF[there][0]][0]})")
    return problems


def test_no_import_runs_up_the_layers() -> None:
    assert violations() == []


def test_every_layer_part_exists() -> None:
    """A part named here that no longer exists is a stale table (and a stale README)."""
    existing = {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert set(LAYER_OF) - existing == set()


@pytest.mark.parametrize(("source", "expected"), [
    ("from ..suites.plan import SuitePlan\n", ["imports pytest_llmeval.suites.plan (a higher layer"]),
    ("from ..backends.base import Reply\n", ["imports pytest_llmeval.backends.base (an independent part"]),
    ("from ..samples import Sample\nfrom .text import TextRules\n", []),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..suites.plan import SuitePlan\n", []),
    ("def f():\n    from ..runtime import RUNTIME\n", ["imports pytest_llmeval.runtime (a higher layer"]),
])
def test_the_check_sees_what_it_should(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                       expected: list[str]) -> None:
    """The checker itself, on a scoring module written for the purpose."""
    scoring = tmp_path / "scoring"
    scoring.mkdir()
    (scoring / "probe.py").write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    found = violations()
    assert len(found) == len(expected) and all(e in f for e, f in zip(expected, found)), found
