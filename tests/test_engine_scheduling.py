"""Under xdist each subject of each model runs on one worker, so a worker may ask for the whole
subject ahead of time and no sample is ever requested twice."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from pytest_llmeval.suites.scheduler import has_suite_files, subject_scope
from tests.e2e import write_jsonl
from tests.servers.fault_server import FaultServer


def test_subject_scope_groups_samples_by_subject_and_model():
    assert subject_scope("a/qa.llmeval.yaml::geo::s1[m1]") == "a/qa.llmeval.yaml::geo[m1]"
    assert subject_scope("a/qa.llmeval.yaml::geo::s2[m1]") == "a/qa.llmeval.yaml::geo[m1]"
    assert subject_scope("a/qa.llmeval.yaml::geo::s1[m2]") == "a/qa.llmeval.yaml::geo[m2]"
    assert subject_scope("tests/test_x.py::test_y[3]") == "tests/test_x.py::test_y[3]"  # others: alone


def test_suite_files_are_found_outside_norecursedirs_only(tmp_path):
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.llmeval.yaml").write_text("")
    assert not has_suite_files([], tmp_path, [".*", "venv"])
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "y.llmeval.yaml").write_text("")
    assert has_suite_files([], tmp_path, [".*"]) and has_suite_files(["suites/y.llmeval.yaml"], tmp_path)


@pytest.mark.parametrize("dist", [[], ["--dist", "loadfile"], ["--dist", "worksteal"]])
def test_each_subject_runs_on_one_worker_and_each_sample_is_asked_once(pytester, dist):
    rows = [{"id": f"s{i}", "topic": f"t{i % 4}", "question": f"q{i}", "answer": "ok"} for i in range(32)]
    write_jsonl(pytester.path / "data" / "qa.jsonl", rows)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n"))
    with FaultServer(delay_s=0.05) as server:
        result = pytester.runpytest_subprocess("--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off",
                                               "-p", "no:cacheprovider", "-n", "2", "-v", *dist)
        asked = [e.prompt for e in server.log]
    result.assert_outcomes(passed=32)
    assert sorted(asked) == sorted(f"q{i}" for i in range(32))  # every sample once, whatever --dist
    workers: dict[str, set[str]] = defaultdict(set)
    for line in result.outlines:
        found = re.search(r"\[(gw\d)\].*qa\.llmeval\.yaml::(t\d)::", line)
        if found:
            workers[found.group(2)].add(found.group(1))
    assert len(workers) == 4
    if dist != ["--dist", "worksteal"]:
        assert all(len(w) == 1 for w in workers.values())
