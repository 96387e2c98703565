"""task code's scorer on its own: its options, its check of a problem's fields, and a real run."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring import score_reply, validate_options
from pytest_llmeval.scoring.code_tests import PASSED, limits, read_gold
from pytest_llmeval.scoring.scored import Gold
from tests._sandbox import requires_sandbox

FIELDS = {"prompt": "def inc(x):\n", "test": "def check(f):\n    assert f(1) == 2\n", "entry_point": "inc"}


@pytest.mark.parametrize(("options", "key"), [
    ({"timeout_s": 0}, "scoring.timeout_s"), ({"timeout_s": "ten"}, "scoring.timeout_s"),
    ({"memory_mb": 1.5}, "scoring.memory_mb"), ({"memory_mb": True}, "scoring.memory_mb"),
])
def test_bad_limits_are_refused_naming_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_options("code", options)
    assert caught.value.key == key


def test_limits_follow_the_suite() -> None:
    assert (limits({}).wall_s, limits({}).cpu_s, limits({}).memory_mb) == (10.0, 5.0, 512)
    assert (limits({"timeout_s": 2, "memory_mb": 256}).wall_s, limits({"timeout_s": 2}).cpu_s,
            limits({"memory_mb": 256}).memory_mb) == (2.0, 2.0, 256)


@pytest.mark.parametrize(("change", "message"), [
    ({"test": None}, "field 'test' has no text"),
    ({"entry_point": "not a name"}, "entry_point 'not a name' is not a Python function name"),
    ({"test": "def check(f):\n    assert f(1) ==\n"}, "field 'test' is not valid Python"),
    ({"test": "def verify(f):\n    pass\n"}, "field 'test' defines no check(candidate) function"),
    ({"setup": 3}, "field 'setup' holds int"),
])
def test_a_problem_missing_what_it_needs_is_a_data_problem(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_gold(Gold("", fields=MappingProxyType({**FIELDS, **change})))


@requires_sandbox
def test_a_completion_and_a_chat_answer_both_run_against_the_tests() -> None:
    completion = score_reply("code", "    return x + 1\n", "", fields=FIELDS)
    chat = score_reply("code", "Sure:\n```python\ndef inc(x):\n    return x + 2\n```\n", "", fields=FIELDS)
    assert (completion.correct, completion.rule, completion.extracted) == (True, PASSED, "def inc(x):\n    return x + 1\n")
    assert chat.correct is False and chat.rule.startswith("failed: AssertionError (line ")
