"""From reply to program: completions cut where HumanEval cuts them, chat answers reduced to their
definitions. The replies are written the way small chat models answer; the ones marked SmolLM2 are
verbatim replies of the bundled model (llama_cpp, greedy, chat template) to HumanEval prompts.
Each extraction is then run in the sandbox, since what matters is whether the right code runs."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmeval.data.humaneval import HumanEvalProblem, read_humaneval
from pytest_llmeval.sandbox import Execution, run_python
from pytest_llmeval.scoring.code import COMPLETION_STOP, chat_code, check_program, code_from_reply, completion_code
from tests._sandbox import in_parallel, requires_sandbox
from tests._shared_data import SHARED_DATA, requires_shared_data

ADD = 'from typing import List\n\n\ndef add(numbers: List[int]) -> int:\n    """Sum the numbers."""\n'
ADD_TEST = "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n"


def run(prompt: str, reply: str, test: str, entry_point: str) -> Execution:
    return run_python(check_program(code_from_reply(prompt, reply, entry_point), test, entry_point))


# --- completions -------------------------------------------------------------------------------


@pytest.mark.parametrize("tail", [
    "\n\ndef check(candidate):\n    assert False\n", "\nif __name__ == '__main__':\n    add(input())\n",
    "\nprint(add([1]))\n", "\n# Example\nadd([1])\n", "\nclass Extra:\n    pass\n", "\n```\n\nThis sums the list.",
])
def test_a_completion_ends_at_the_first_stop_sequence(tail: str) -> None:
    body = "    total = 0\n    for n in numbers:\n        total += n\n    return total\n"
    assert completion_code(ADD, body + tail).rstrip("\n") == ADD + body.rstrip("\n")
    assert code_from_reply(ADD, body + tail, "add") == completion_code(ADD, body + tail)


def test_the_stop_sequences_are_humanevals_and_a_fence() -> None:
    assert COMPLETION_STOP == ("\nclass", "\ndef", "\n#", "\nif", "\nprint", "\n```")


def test_indented_comments_and_ifs_stay_in_the_body() -> None:
    body = "    # add them up\n    if not numbers:\n        return 0\n    return sum(numbers)\n"
    assert code_from_reply(ADD, body, "add") == ADD + body


def test_a_body_in_a_fence_is_a_completion() -> None:
    assert code_from_reply(ADD, "```python\n    return sum(numbers)\n```\n", "add") == ADD + "    return sum(numbers)\n"


def test_a_body_written_flush_left_in_a_fence_is_indented() -> None:
    assert code_from_reply(ADD, "```python\nreturn sum(numbers)\n```", "add") == ADD + "    return sum(numbers)\n"


# --- chat answers ------------------------------------------------------------------------------


def test_a_fenced_answer_repeating_signature_and_imports_runs_after_the_prompt() -> None:
    reply = ("Here is the implementation:\n\n```python\nfrom typing import List\n\ndef add(numbers: List[int]) -> int:\n"
             "    return sum(numbers)\n```\n\nThe function uses the built-in `sum`.")
    assert chat_code(ADD, reply, "add") == (
        ADD.rstrip() + "\n\n\nfrom typing import List\n\ndef add(numbers: List[int]) -> int:\n    return sum(numbers)\n")


def test_demos_prints_asserts_and_main_blocks_are_dropped() -> None:
    reply = """```python
import math

LIMIT = 10 ** 6
UNUSED = input("never asked")

def add(numbers):
    total = 0
    for n in numbers:
        total += n
    return _checked(total)


@staticmethod
def _unused():
    pass


def _checked(total):
    assert abs(total) < LIMIT
    return total


# Test the function
print(add([1, 2, 3]))  # Output: 6
assert add([1, 2]) == 4  # a made-up expected value
result = add([5])

if __name__ == "__main__":
    import doctest
    doctest.testmod()
    add(list(map(int, input().split())))
```"""
    code = chat_code(ADD, reply, "add")
    assert code is not None
    assert code.startswith(ADD.rstrip() + "\n\n\n")
    kept = [type(n).__name__ + ":" + getattr(n, "name", "") for n in ast.parse(code[len(ADD.rstrip()):]).body]
    assert kept == ["Import:", "Assign:", "FunctionDef:add", "FunctionDef:_unused", "FunctionDef:_checked"]
    assert "LIMIT = 10 ** 6" in code and "input" not in code and "print" not in code
    assert "@staticmethod\ndef _unused" in code


def test_smollm2_bare_code_with_a_stray_closing_fence() -> None:
    """SmolLM2, HumanEval/0 prompt: bare code, made-up examples, a closing fence with no opening one."""
    reply = ("from typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
             "    return any(abs(num - threshold) < threshold for num in numbers)\n\n# Example usage:\n"
             "print(has_close_elements([1.0, 2.0, 3.0], 0.5))  # True\n```\n\n"
             "In this implementation, the `has_close_elements` function uses a generator expression.")
    code = chat_code("def has_close_elements(numbers, threshold):\n    pass\n", reply, "has_close_elements")
    assert code is not None and code.endswith(
        "\n\n\nfrom typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return any(abs(num - threshold) < threshold for num in numbers)\n")


def test_later_definitions_win_and_other_languages_are_skipped() -> None:
    reply = ("First install nothing:\n```bash\npip install numpy\n```\nA first try:\n```python\ndef add(numbers):\n"
             "    return 0\n```\nOutput:\n```text\n0\n```\nBetter:\n```py\ndef add(numbers):\n    return sum(numbers)\n```")
    code = chat_code(ADD, reply, "add")
    assert code is not None and "pip" not in code and code.endswith("def add(numbers):\n    return sum(numbers)\n")


def test_an_unclosed_fence_cut_by_max_tokens_keeps_what_parses() -> None:
    reply = "```python\ndef add(numbers):\n    return sum(numbers)\n\n# Example\nprint(add([1, 2, 3"
    assert chat_code(ADD, reply, "add") == ADD.rstrip() + "\n\n\ndef add(numbers):\n    return sum(numbers)\n"


def test_a_definition_cut_mid_line_is_no_definition() -> None:
    """SmolLM2, HumanEval/12: the only definition breaks off mid-expression at max_tokens."""
    reply = "```python\ndef add(numbers):\n    return max(numbers, default=None) if len(numbers) > 1000000000"
    assert chat_code(ADD, reply, "add") is None


def test_a_prompt_that_is_not_code_is_left_out() -> None:
    prompt = "Write a function add(numbers) that returns the sum of a list of integers."
    assert chat_code(prompt, "```python\ndef add(numbers):\n    return sum(numbers)\n```", "add") == (
        "def add(numbers):\n    return sum(numbers)\n")


def test_a_prompt_without_a_body_keeps_its_imports() -> None:
    prompt = "from typing import List\n\ndef add(numbers: List[int]) -> int:\n"
    code = chat_code(prompt, "```python\ndef add(numbers: List[int]) -> int:\n    return sum(numbers)\n```", "add")
    assert code == "from typing import List\n\n\ndef add(numbers: List[int]) -> int:\n    return sum(numbers)\n"


def test_a_method_is_not_the_function() -> None:
    reply = "```python\nclass Solution:\n    def add(self, numbers):\n        return sum(numbers)\n```"
    assert chat_code(ADD, reply, "add") is None


def test_the_check_program_is_setup_code_test_and_the_call() -> None:
    assert check_program("def f():\n    return 1\n", "def check(c):\n    assert c() == 1\n", "f", setup="import os\n") == (
        "import os\n\ndef f():\n    return 1\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)\n")
    assert check_program("x = 1", "def check(c): pass", "f") == "x = 1\n\ndef check(c): pass\n\ncheck(f)\n"


FRAGMENTS = ["```", "```python\n", "~~~\n", "\n", "    ", "def add(numbers):\n", "return sum(numbers)\n", "import os\n",
             "print(1)\n", "if x:\n", "# note\n", "class A:\n", "@dec\n", "Here is the code:", "(", "'''", "\0", "\t"]


@settings(deadline=None)  # a parse per candidate end: milliseconds, more on a loaded machine
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join), st.sampled_from([ADD, "Write add.", ""]))
def test_any_reply_gives_code_and_never_raises(reply: str, prompt: str) -> None:
    code = code_from_reply(prompt, reply, "add")
    assert code.startswith(prompt) or chat_code(prompt, reply, "add") == code


# --- run in the sandbox ------------------------------------------------------------------------


@requires_sandbox
def test_realistic_answers_pass_or_fail_as_they_should() -> None:
    cases = [
        ("    return sum(numbers)\n\n\ndef check(x):\n    pass\n", True),          # completion with a tail
        ("```python\ndef add(numbers: List[int]) -> int:\n    return sum(numbers)\n```", True),  # List from the prompt
        ("Sure!\n\ndef add(numbers):\n    return _total(numbers)\n\ndef _total(xs):\n    return sum(xs)\n\n"
         "if __name__ == '__main__':\n    print(add([int(input())]))\n", True),     # bare, a helper, a main block
        ("```python\ndef add(numbers):\n    return sum(numbers)\n\nassert add([2, 2]) == 5\n```", True),  # wrong demo
        ("```python\ndef add(numbers):\n    return sum(numbers) + 1\n```", False),
        ("```python\ndef add(numbers):\n    return sum(numbers\n```", False),
        ("I cannot help with that.", False),
    ]
    executions = in_parallel(lambda case: run(ADD, case[0], ADD_TEST, "add"), cases)
    assert [e.passed for e in executions] == [passed for _, passed in cases], [e.reason for e in executions]
    assert executions[4].reason == "AssertionError (line 12)"
    assert executions[6].reason.startswith("SyntaxError")


@pytest.fixture(scope="module")
def humaneval() -> dict[str, HumanEvalProblem]:
    assert SHARED_DATA is not None
    return {p.task_id: p for p in read_humaneval(SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz")}


@requires_shared_data
@requires_sandbox
def test_smollm2_replies_run_as_written(humaneval: dict[str, HumanEvalProblem]) -> None:
    """Verbatim bundled-model replies: wrong answers fail on the test's assert, not on extraction."""
    replies = {
        "HumanEval/60": ("```python\ndef sum_to_n(n: int) -> int:\n    return n + 1\n```\n\nThis function uses the "
                         "built-in `sum` function in Python, which adds up all the numbers in an iterable."),
        "HumanEval/24": ("```python\ndef largest_divisor(n: int) -> int:\n    return max(range(1, n + 1))\n```\n\n"
                         "This function uses the built-in `max` function."),
        "HumanEval/48": ("```python\ndef is_palindrome(text: str) -> bool:\n    \"\"\"\n    Checks if given string is a "
                         "palindrome\n    >>> is_palindrome('aba')\n    True\n    \"\"\"\n"
                         "    return text == text[::-1)\n```"),
    }
    problems = [humaneval[task] for task in replies]
    executions = in_parallel(lambda p: run(p.prompt, replies[p.task_id], p.test, p.entry_point), problems)
    assert [e.status for e in executions] == ["failed", "failed", "failed"]
    assert executions[0].reason.startswith("AssertionError") and executions[1].reason.startswith("AssertionError")
    assert executions[2].reason.startswith("SyntaxError")


@requires_shared_data
@requires_sandbox
def test_a_helper_from_the_prompt_stays_defined(humaneval: dict[str, HumanEvalProblem]) -> None:
    """HumanEval/10's prompt defines is_palindrome; the answer uses it without repeating it."""
    problem = humaneval["HumanEval/10"]
    reply = ("```python\ndef make_palindrome(string: str) -> str:\n    for i in range(len(string)):\n"
             "        if is_palindrome(string[i:]):\n            return string + string[:i][::-1]\n"
             "    return string\n```")
    assert run(problem.prompt, reply, problem.test, problem.entry_point).passed
