"""Python tests with @llmeval.dataset and the llm fixture count as samples of their subject."""

from __future__ import annotations

import pytest

from tests.e2e import XDIST_MODES, read_results, server_args, write_jsonl

TEST_FILE = """
import pytest
import pytest_llmeval as llmeval

@pytest.mark.llm_threshold({threshold})
@llmeval.dataset("data/capitals.jsonl", subject="geography")
def test_capital(llm, sample):
    assert sample["answer"].lower() in llm.generate(sample["question"]).lower()
"""

ROWS = [
    {"id": "fr", "question": "Capital of France?", "answer": "Paris"},
    {"id": "it", "question": "Capital of Italy?", "answer": "Rome"},
    {"id": "no", "question": "Capital of Norway?", "answer": "Oslo"},
    {"id": "jp", "question": "Capital of Japan?", "answer": "Tokyo"},
]
REPLIES = {"Capital of France?": "It is Paris.", "Capital of Italy?": "Rome!", "Capital of Norway?": "Oslo",
           "Capital of Japan?": "Kyoto, I believe."}


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_assertions_count_as_samples(pytester, fake_openai_factory, xdist):
    server = fake_openai_factory(replies=REPLIES)
    write_jsonl(pytester.path / "data" / "capitals.jsonl", ROWS)
    pytester.makepyfile(test_caps=TEST_FILE.format(threshold=0.7))
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out", *xdist)
    result.stdout.fnmatch_lines(["*3 passed*1 missed*"])
    assert result.ret == 0
    row = read_results(pytester.path / "out")["subjects"][0]
    assert (row["suite"], row["subject"], row["n"], row["correct"], row["threshold"]) == ("test_caps", "geography", 4, 3, 0.7)


def test_threshold_marker_gates_the_run(pytester, fake_openai_factory):
    server = fake_openai_factory(replies=REPLIES)
    write_jsonl(pytester.path / "data" / "capitals.jsonl", ROWS)
    pytester.makepyfile(test_caps=TEST_FILE.format(threshold=0.9))
    result = pytester.runpytest(*server_args(server.base_url))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*threshold not met*geography*"])


def test_strict_fails_the_wrong_sample(pytester, fake_openai_factory):
    server = fake_openai_factory(replies=REPLIES)
    write_jsonl(pytester.path / "data" / "capitals.jsonl", ROWS)
    pytester.makepyfile(test_caps=TEST_FILE.format(threshold=0.5))
    pytester.runpytest(*server_args(server.base_url), "--llm-strict").assert_outcomes(passed=3, failed=1)


def test_llm_fixture_runs_once_per_model(pytester, fake_openai_factory):
    server = fake_openai_factory(default_reply="hello")
    pytester.makepyfile("def test_hi(llm):\n    assert llm.generate('hi') == 'hello'\n")
    result = pytester.runpytest("--llm-model=a", "--llm-model=b", f"--llm-base-url={server.base_url}", "-v")
    result.stdout.fnmatch_lines(["*test_hi[[]a[]] PASSED*", "*test_hi[[]b[]] PASSED*"])


def test_bad_dataset_path_is_one_line(pytester, fake_openai_factory):
    server = fake_openai_factory(default_reply="x")
    pytester.makepyfile(TEST_FILE.format(threshold=0.5))
    result = pytester.runpytest(*server_args(server.base_url))
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*capitals.jsonl*"])
    assert "Traceback" not in result.stdout.str()
