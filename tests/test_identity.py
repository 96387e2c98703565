"""One sample identity: set at collection on the item's stash, for suite items and dataset tests alone."""

from __future__ import annotations

import json
import textwrap

import pytest

from pytest_llmeval.identity import is_suite_nodeid, model_of_nodeid
from tests.e2e import XDIST_MODES, sample_outcomes, write_jsonl, write_mc_suite

CONFTEST = '''
import json
from pytest_llmeval.identity import sample_of

def pytest_collection_modifyitems(config, items):
    seen = {item.nodeid: (lambda i: i and [i.suite, i.subject, i.id, i.kind])(sample_of(item)) for item in items}
    config.rootpath.joinpath(f"ids-{getattr(config, 'workerinput', {}).get('workerid', 'main')}.json").write_text(
        json.dumps(seen))
'''


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_every_item_knows_its_sample_from_collection_on(pytester: pytest.Pytester, xdist: list[str]) -> None:
    write_mc_suite(pytester)
    write_jsonl(pytester.path / "qa.jsonl", [{"id": "a1", "question": "q", "answer": "x"}])
    pytester.makepyfile(test_python=textwrap.dedent("""
        from pytest_llmeval import dataset

        @dataset("qa.jsonl")
        def test_sample(sample, llm):
            pass

        def test_plain():
            pass
    """))
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".yaml", llm_models=json.dumps(
        {"models": {"m": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"default": "B"}}}}))
    result = pytester.runpytest("--llm-model=m", "-p", "no:cacheprovider", *xdist)
    assert sample_outcomes(result) == {"passed": 4, "missed": 4}, result.stdout.str()
    written = sorted(p.name for p in pytester.path.glob("ids-*.json"))
    assert written == (["ids-gw0.json", "ids-gw1.json"] if "2" in xdist else ["ids-main.json"])
    for path in pytester.path.glob("ids-*.json"):
        seen = json.loads(path.read_text())
        assert seen["quiz.llmeval.yaml::geo::q1[m]"] == ["quiz", "geo", "q1", "suite"]
        assert seen["test_python.py::test_sample[qa-a1-m]"] == ["test_python", "qa", "a1", "test"]
        assert seen["test_python.py::test_plain"] is None and len(seen) == 8


def test_node_ids_read_in_one_place() -> None:
    assert is_suite_nodeid("s/quiz.llmeval.yaml::geo::q1[m]") and not is_suite_nodeid("test_x.py::test_a[m]")
    assert model_of_nodeid("quiz.llmeval.yaml::geo::q1[gpt-4o]", ["m", "gpt-4o"]) == "gpt-4o"
    assert model_of_nodeid("test_x.py::test_a[qa-a1-m]", ["m"]) == "m"
    assert model_of_nodeid("test_x.py::test_plain", ["m"]) is None
