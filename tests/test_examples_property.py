"""Property-based model tests: ``@llmeval.examples`` draws examples with hypothesis, each one a
sample, against a scripted server that adds wrongly exactly when a >= 500."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e import XDIST_MODES, read_results, read_samples, sample_outcomes, server_args
from tests.test_shards import merge, summary_lines

PROPERTY = """
import pytest
import pytest_llmeval as llmeval
from hypothesis import strategies as st

@llmeval.examples(a=st.integers(0, 999), b=st.integers(0, 9), n={n})
@pytest.mark.llm_threshold({threshold})
def test_adds(llm, a, b):
    assert str(a + b) in llm.generate(f"What is {{a}} + {{b}}? Reply with the number.")
"""
N = 30
QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


def adder(wrong_from: int) -> Any:
    """The scripted model: right below ``wrong_from`` for a, one too many from there on."""
    def reply(prompt: str) -> str:
        match = QUESTION.search(prompt)
        assert match, prompt
        a, b = int(match[1]), int(match[2])
        return str(a + b + (a >= wrong_from))

    return reply


def write_property(pytester: pytest.Pytester, n: int = N, threshold: float = 0.0) -> None:
    pytester.makepyfile(test_prop=PROPERTY.format(n=n, threshold=threshold))


def ab(sample: dict[str, Any]) -> tuple[int, int]:
    return int(sample["example"]["a"]), int(sample["example"]["b"])


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_each_example_is_a_sample_counted_towards_the_threshold(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                                  xdist: list[str]) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    write_property(pytester, threshold=0.99)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out", *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    samples = read_samples(pytester.path / "out")
    assert len(samples) == N and len({s["id"] for s in samples}) == N
    assert all(s["id"] == f"a={a},b={b}" for s in samples for a, b in [ab(s)])
    wrong = sorted(ab(s) for s in samples if ab(s)[0] >= 500)
    assert wrong and all(s["correct"] == (ab(s)[0] < 500) for s in samples)
    row = read_results(pytester.path / "out")["subjects"][0]
    assert (row["suite"], row["subject"], row["n"], row["correct"]) == ("test_prop", "test_adds", N, N - len(wrong))
    outcomes = sample_outcomes(result)
    assert outcomes["passed"] == N - len(wrong) and outcomes["missed"] == len(wrong)
    text = result.stdout.str()
    assert "threshold not met" in text and "test_adds" in text
    listed = f"a={wrong[0][0]}, b={wrong[0][1]}" if len(wrong) == 1 else ""
    result.stdout.fnmatch_lines(
        [f"*failing examples of test_prop::test_adds [[]test-model[]] ({len(wrong)} of {N}): *{listed}*"])
    assert len(wrong) <= 5 or f"and {len(wrong) - 5} more" in text
    assert read_results(pytester.path / "out")["examples"][0]["failing"] == sorted(
        (f"a={a}, b={b}" for a, b in wrong), key=lambda t: (len(t), t))


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "::test_adds[" in line]


def test_draws_are_the_same_in_every_process_and_when_tests_are_added(pytester: pytest.Pytester,
                                                                       fake_openai_factory: Any) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    write_property(pytester, n=200)
    args = [*server_args(server.base_url), "--collect-only", "-q"]
    first, second = (collected(pytester.runpytest_subprocess(*args)) for _ in range(2))
    assert len(first) == 200 and first == second
    assert all(re.fullmatch(r"test_prop.py::test_adds\[a=\d+,b=\d-test-model\]", line) for line in first)
    assert collected(pytester.runpytest(*args)) == first  # in this process, which has other modules loaded
    # hypothesis mixes in constants it finds in the source of loaded local modules (not test
    # files); the plugin's draws must not change with them
    pytester.makeconftest("CONSTANTS = [" + ", ".join(str(i) for i in range(100, 1000, 7)) + "]\n")
    pytester.makepyfile(test_prop="import pytest_llmeval as llmeval\nfrom hypothesis import strategies as st\n\n"
                        "@llmeval.examples(x=st.integers(), n=5)\ndef test_before(llm, x):\n    pass\n"
                        + PROPERTY.format(n=200, threshold=0.0))
    assert collected(pytester.runpytest_subprocess(*args)) == first
    write_property(pytester, n=20)
    whole = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=one")
    spread = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=two", "-n", "2", "--llm-cache=off")
    assert whole.ret == spread.ret == 0
    assert sorted(s["id"] for s in read_samples(pytester.path / "one")) == sorted(
        s["id"] for s in read_samples(pytester.path / "two"))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_shrink_finds_the_minimal_failing_example_and_a_rerun_replays_it(pytester: pytest.Pytester,
                                                                        fake_openai_factory: Any,
                                                                        xdist: list[str]) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    write_property(pytester)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-shrink", "--llm-report-dir=out", *xdist)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*minimal failing example of test_prop::test_adds [[]test-model[]]: a=500, b=0 "
                                 "(shrunk from a=*,b=* in * calls)*"])
    asked = len(server.requests)
    assert asked > N  # the shrink's own calls went to the model
    shrunk = [s["shrunk"] for s in read_samples(pytester.path / "out") if s["shrunk"]]
    assert len(shrunk) == 1 and shrunk[0]["example"] == {"a": "500", "b": "0"} and 0 < shrunk[0]["calls"] <= 100
    assert read_results(pytester.path / "out")["examples"][0]["minimal"]["example"] == "a=500, b=0"
    if not xdist:  # the same example shrinks again; each of its calls is in the journal
        again = pytester.runpytest(*server_args(server.base_url), "--llm-shrink", *xdist)
        assert len(server.requests) == asked
        again.stdout.fnmatch_lines(["*minimal failing example of test_prop::test_adds [[]test-model[]]: a=500, b=0 *"])


def test_shrink_is_bounded_by_its_call_limit(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    write_property(pytester)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-shrink", "--llm-shrink-calls=3",
                                "--llm-report-dir=out")
    assert len(server.requests) <= N + 3
    result.stdout.fnmatch_lines(["*minimal failing example of test_prop::test_adds*in 3 calls, stopped at the "
                                 "--llm-shrink-calls limit)*"])


def test_a_rerun_is_journaled_and_the_baseline_pairs_by_value(pytester: pytest.Pytester,
                                                              fake_openai_factory: Any) -> None:
    before = fake_openai_factory(reply_for=adder(500))
    write_property(pytester)
    assert pytester.runpytest(*server_args(before.base_url), "--llm-update-baseline",
                              "--llm-baseline=base.json").ret == 0
    asked = len(before.requests)
    assert asked == N
    assert pytester.runpytest(*server_args(before.base_url), "--llm-baseline=base.json").ret == 0
    assert len(before.requests) == asked  # every reply from the journal
    worse = fake_openai_factory(reply_for=adder(100))
    result = pytester.runpytest(*server_args(worse.base_url), "--llm-baseline=base.json", "--llm-cache=off")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*regress*test_adds*"])


def test_shards_merge_to_what_one_run_gives(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    write_property(pytester, threshold=0.99)
    args = [*server_args(server.base_url, model="ckpt"), "--llm-shrink"]
    whole = pytester.runpytest(*args, "--llm-report-dir=whole")
    for index in (1, 2):
        pytester.runpytest(*args, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/2", "-n", "2")
    merged = merge(pytester, "shard1", "shard2", "--out", "merged")
    assert merged.returncode == whole.ret == pytest.ExitCode.TESTS_FAILED, merged.stdout + merged.stderr
    def decided(text: str) -> list[str]:  # which failing example was shrunk, and in how many calls, may differ
        return [line.split(" (shrunk from")[0] for line in summary_lines(text)]

    assert decided(merged.stdout) == decided(whole.stdout.str())
    whole_doc, merged_doc = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    assert merged_doc["subjects"] == whole_doc["subjects"]
    assert [r["failing"] for r in merged_doc["examples"]] == [r["failing"] for r in whole_doc["examples"]]
    assert merged_doc["examples"][0]["minimal"]["example"] == "a=500, b=0"
    assert "failing examples of test_prop::test_adds" in merged.stdout


BAD = {
    "n-missing": ("@llmeval.examples(a=st.integers())", "needs n=, a positive number of examples, got None"),
    "n-zero": ("@llmeval.examples(a=st.integers(), n=0)", "needs n=, a positive number of examples, got 0"),
    "not-a-strategy": ("@llmeval.examples(a=range(3), n=5)", "argument 'a': expected a hypothesis strategy, got range"),
    "not-a-parameter": ("@llmeval.examples(c=st.integers(), n=5)", "argument 'c' is not a parameter of the test"),
    "empty": ("@llmeval.examples(a=st.nothing(), n=5)", "argument 'a': the strategy nothing() cannot produce any value"),
}


@pytest.mark.parametrize("decorator, line", list(BAD.values()), ids=list(BAD))
def test_bad_input_is_one_line_at_collection(pytester: pytest.Pytester, fake_openai_factory: Any,
                                             decorator: str, line: str) -> None:
    server = fake_openai_factory(reply_for=adder(500))
    pytester.makepyfile(test_bad=f"import pytest_llmeval as llmeval\nfrom hypothesis import strategies as st\n\n"
                        f"{decorator}\ndef test_x(llm, a):\n    pass\n")
    result = pytester.runpytest(*server_args(server.base_url))
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*test_bad.py::test_x*llmeval.examples {line}*"])
    assert "Traceback" not in result.stdout.str() and len(server.requests) == 0
