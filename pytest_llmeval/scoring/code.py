"""From a model's reply to the program that tests it, for code-generation tasks (HumanEval style).

``code_from_reply`` reads either shape of reply:

- **An answer that defines the function.** Chat models answer in fenced blocks (```` ```python
  ````, ```` ``` ````, a last fence left open when max_tokens cut the reply), or in bare code
  that ends with a stray closing fence and prose (SmolLM2's usual shape). They repeat the
  signature and imports, add helpers, then demonstrate: ``print(f(3))``, an ``if __name__ ==
  "__main__":`` block, asserts with made-up values, ``input()``. So the reply's Python is reduced
  to its definitions: imports, functions, classes, and the assignments those definitions read.
  Everything else goes, or a correct function would fail on its own demo. Blocks in another
  language are skipped; a block that stops mid-statement keeps its longest part that parses. The
  definitions go after the prompt's code, so the prompt's imports and helpers (HumanEval/10's
  ``is_palindrome``) stay defined, and the reply's own definition, coming later, is the one that
  runs.
- **A completion.** When the reply defines no function of the entry point's name, it continues
  the prompt (a signature and docstring): the code is ``prompt + reply``, cut at the first of
  HumanEval's stop sequences (``COMPLETION_STOP``: a new top-level ``def``, ``class``, ``if``,
  ``print`` or comment ends the function, as in Chen et al. (2021) and lm-evaluation-harness),
  plus a fence at the start of a line, which is never Python. A reply that opens with a fence
  has its body inside it.

``check_program`` joins setup, code, the problem's test and ``check(entry_point)``, as
HumanEval's ``check_correctness`` does; the result runs in ``pytest_llmeval.sandbox``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Sequence

__all__ = ["COMPLETION_STOP", "chat_code", "check_program", "code_from_reply", "completion_code"]

COMPLETION_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint", "\n```")
"""HumanEval's stop sequences (Codex paper; lm-evaluation-harness's ``humaneval``), and a fence."""

_FENCE_LINE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*([\w+.#-]*)")
_PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
_CODE_START = re.compile(r"^(?:def |async def |class |import |from [\w.]+ import |@)", re.M)
_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_ASSIGNMENTS = (ast.Assign, ast.AnnAssign)


def code_from_reply(prompt: str, reply: str, entry_point: str) -> str:
    """The code to test for ``reply`` to ``prompt``: the reply's definitions after the prompt when
    it defines ``entry_point`` itself (in a fenced block or bare), else the prompt completed by the
    reply (by its first fenced block, when the reply starts with one: a body in a fence)."""
    return chat_code(prompt, reply, entry_point) or completion_code(prompt, _body(reply))


def completion_code(prompt: str, reply: str, stop: Sequence[str] = COMPLETION_STOP) -> str:
    """``prompt + reply``, the reply cut at the earliest stop sequence."""
    cut = min((i for i in (reply.find(s) for s in stop) if i >= 0), default=len(reply))
    return prompt + reply[:cut]


def chat_code(prompt: str, reply: str, entry_point: str) -> str | None:
    """The definitions in the reply's Python, after the prompt's own code; None when they do not
    define ``entry_point``."""
    code = "\n\n".join(d for d in map(_definitions, _python_blocks(reply)) if d)
    if not _defines(code, entry_point):
        return None
    head = _longest_parsable(prompt)
    return f"{head.rstrip()}\n\n\n{code}\n" if head.strip() else f"{code}\n"


def check_program(code: str, test: str, entry_point: str, setup: str = "") -> str:
    """The program whose run decides the sample: ``setup``, the code, the test (which defines
    ``check``), then ``check(entry_point)``. It passes when it runs to the end."""
    parts = [setup.rstrip(), code.rstrip(), test.rstrip(), f"check({entry_point})"]
    return "\n\n".join(p for p in parts if p) + "\n"


def _python_blocks(reply: str) -> list[str]:
    """In reply order: the text of every fenced block tagged Python or untagged (of every fenced
    block, when none is), and the bare code outside fences, from its first top-level ``def``,
    ``class`` or import. Fences toggle line by line, so a stray closing fence after bare code, as
    small models write it, leaves that code outside, where it is still found."""
    segments = _segments(reply)
    fenced = [tag for tag, _ in segments if tag is not None]
    wanted = _PYTHON_TAGS if any(tag in _PYTHON_TAGS for tag in fenced) else set(fenced)
    blocks = []
    for tag, text in segments:
        if tag is None and (start := _CODE_START.search(text)):
            blocks.append(text[start.start():])
        elif tag is not None and tag in wanted:
            blocks.append(text)
    return blocks


def _segments(reply: str) -> list[tuple[str | None, str]]:
    """``(tag, text)`` for each stretch of the reply: tag None outside fences, the fence's language
    (lower case, "" when none) inside. An unclosed last fence runs to the end."""
    segments: list[tuple[str | None, str]] = []
    tag: str | None = None
    lines: list[str] = []
    for line in reply.splitlines(keepends=True):
        fence = _FENCE_LINE.match(line)
        if fence is None:
            lines.append(line)
            continue
        segments.append((tag, "".join(lines)))
        tag, lines = (fence.group(1).lower() if tag is None else None), []
    segments.append((tag, "".join(lines)))
    return [(t, text) for t, text in segments if text.strip()]


def _definitions(block: str) -> str:
    """The block's imports, functions, classes and the assignments they read, in source order."""
    source = _longest_parsable(textwrap.dedent(block))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = _keep(tree.body)
    return "\n\n".join(_source(source, node) for node in tree.body if node in kept)


def _keep(body: list[ast.stmt]) -> set[ast.stmt]:
    """Definitions, plus every assignment to a name a kept statement reads, until nothing changes
    (``LIMIT = 10`` read by a function; ``TABLE = make(LIMIT)`` read by another)."""
    kept: set[ast.stmt] = {node for node in body if isinstance(node, _KEPT)}
    assignments = [node for node in body if isinstance(node, _ASSIGNMENTS)]
    while True:
        read = _names_read(kept)
        more = {node for node in assignments if node not in kept and _names_bound(node) & read}
        if not more:
            return kept
        kept |= more


def _names_read(nodes: Iterable[ast.stmt]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_bound(node: ast.stmt) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def _source(source: str, node: ast.stmt) -> str:
    """The statement's exact text, decorators included (not ``ast.unparse``, which drops comments
    and may respell literals)."""
    text = ast.get_source_segment(source, node) or ""
    decorators = getattr(node, "decorator_list", [])
    return "".join(f"@{ast.get_source_segment(source, d)}\n" for d in decorators) + text


def _defines(code: str, name: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def _longest_parsable(source: str) -> str:
    """``source`` when it parses, else its longest prefix that ends before a top-level line and
    parses (prose after the code; a last function cut off by max_tokens). Only top-level lines are
    tried as ends, so this takes a few parses, not one per line."""
    if _parses(source):
        return source
    lines = source.splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if i and line[:1] not in ("", " ", "\t", "\n", "\r")]
    for end in reversed(ends):
        prefix = "".join(lines[:end])
        if _parses(prefix):
            return prefix
    return ""


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return False
    return True


def _body(reply: str) -> str:
    """The reply as a function body: a reply that opens with a fence holds the body in it (indented
    as a body when the model wrote it flush left); any other reply is the completion itself."""
    segments = _segments(reply)
    if not segments or segments[0][0] is None or not _FENCE_LINE.match(reply.lstrip()):
        return reply
    text = segments[0][1]
    return text if text.lstrip("\n")[:1].isspace() else textwrap.indent(text, "    ")
