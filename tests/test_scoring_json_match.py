"""``task: json_match``, the task added through the registry alone: the reply's JSON against the gold JSON."""

from __future__ import annotations

import json

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring import rules, score_reply, validate_options
from pytest_llmeval.scoring.scored import Gold
from pytest_llmeval.scoring.json_match import EMBEDDED, FENCED_BLOCK, NO_JSON, same_json
from pytest_llmeval.scoring.tasks import REGISTRY
from tests.e2e import read_samples, sample_outcomes

GOLD = '{"city": "Paris", "pop": 2.1, "tags": ["capital", "fr"], "big": true}'


@pytest.mark.parametrize(("reply", "correct", "rule"), [
    ('{"big": true, "tags": ["capital", "fr"], "pop": 2.1, "city": "Paris"}', True, rules.WHOLE_REPLY),
    ('  {"city":"Paris","pop":2.1,"tags":["capital","fr"],"big":true}\n', True, rules.WHOLE_REPLY),
    ('Sure:\n```json\n{"city": "Paris", "pop": 2.1, "tags": ["capital", "fr"], "big": true}\n```\nDone.', True,
     FENCED_BLOCK),
    ('It is {"city": "Paris", "pop": 2.1, "tags": ["capital", "fr"], "big": true} as asked.', True, EMBEDDED),
    ('{"city": "Paris", "pop": 2.1, "tags": ["fr", "capital"], "big": true}', False, rules.WHOLE_REPLY),
    ('{"city": "Paris", "pop": 2.1, "tags": ["capital", "fr"], "big": 1}', False, rules.WHOLE_REPLY),
    ('{"city": "Paris", "pop": 2.1, "tags": ["capital", "fr"]}', False, rules.WHOLE_REPLY),
])
def test_structure_counts_not_spelling(reply: str, correct: bool, rule: str) -> None:
    scored = score_reply("json_match", reply, GOLD)
    assert (scored.correct, scored.rule, scored.unparsed) == (correct, rule, False)
    assert scored.score == (1.0 if correct else 0.0)


def test_extracted_is_canonical_json() -> None:
    scored = score_reply("json_match", 'Here: {"b": [1, 2.0], "a": "é"}', '{"a": "é", "b": [1.0, 2]}')
    assert scored.extracted == '{"a":"é","b":[1,2.0]}' and scored.correct


@pytest.mark.parametrize(("reply", "rule"), [
    ("Paris is the capital.", NO_JSON),
    ("{not json at all}", NO_JSON),
    ('{"x": NaN}', NO_JSON),
    ('First {"a": 1} then {"a": 2}.', rules.CONFLICTING),
    ('```json\n{"a": 1}\n```\n```json\n{"a": 2}\n```', rules.CONFLICTING),
])
def test_no_value_or_disagreeing_values_are_unparsed(reply: str, rule: str) -> None:
    scored = score_reply("json_match", reply, '{"a": 1}')
    assert (scored.extracted, scored.correct, scored.rule, scored.unparsed) == (None, False, rule, True)


def test_the_same_value_twice_is_one_answer() -> None:
    assert score_reply("json_match", 'I say {"a": 1}, again: {"a": 1.0}', '{"a": 1}').correct


@pytest.mark.parametrize(("a", "b", "same"), [
    (1, 1.0, True), (True, 1, False), (False, 0, False), ("1", 1, False), (None, None, True),
    ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, True), ({"a": 1}, {"a": 1, "b": 2}, False), ([1, 2], [2, 1], False),
])
def test_same_json_keeps_json_types_apart(a: object, b: object, same: bool) -> None:
    assert same_json(a, b) is same and same_json(b, a) is same


def test_a_gold_answer_that_is_not_json_is_refused() -> None:
    task = REGISTRY["json_match"]
    assert task.read_gold is not None and task.read_gold(Gold('{"a": 1}')) == '{"a": 1}'
    with pytest.raises(ValueError, match="answer 'Paris' is not JSON"):
        task.read_gold(Gold("Paris"))
    with pytest.raises(ValueError, match="is not JSON"):
        score_reply("json_match", "{}", "Paris")


def test_registered_without_options() -> None:
    assert REGISTRY["json_match"].options == frozenset() and REGISTRY["json_match"].modes == ("gen",)
    validate_options("json_match", {})
    with pytest.raises(ConfigError, match="^scoring.strip: does not apply to task json_match"):
        validate_options("json_match", {"strip": True})


ROWS = [{"id": "paris", "question": "Paris as JSON?", "answer": {"city": "Paris", "country": "FR"}},
        {"id": "rome", "question": "Rome as JSON?", "answer": {"city": "Rome", "country": "IT"}},
        {"id": "oslo", "question": "Oslo as JSON?", "answer": {"city": "Oslo", "country": "NO"}}]
REPLIES = {"Paris as JSON?": '```json\n{"country": "FR", "city": "Paris"}\n```',
           "Rome as JSON?": 'Sure: {"city": "Rome", "country": "IT"}', "Oslo as JSON?": "Oslo, Norway"}


def _suite(pytester: pytest.Pytester, rows: list[dict[str, object]]) -> None:
    pytester.path.joinpath("cities.json").write_text(json.dumps(rows), encoding="utf-8")
    pytester.makefile(".llmeval.yaml", cities="task: json_match\ndata: {format: json, path: cities.json}\n"
                                              "prompt: '{question}'\nthreshold: 0.5\n")
    models = {"models": {"scripted": {"backend": "pytest_llmeval.testing:ScriptedBackend",
                                      "options": {"replies": REPLIES}}}}
    pytester.makefile(".yaml", llm_models=json.dumps(models))


def test_a_json_match_suite_on_json_data_end_to_end(pytester: pytest.Pytester) -> None:
    _suite(pytester, ROWS)
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK and sample_outcomes(result) == {"passed": 2, "missed": 1}
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    assert samples["paris"]["extracted"] == '{"city":"Paris","country":"FR"}'
    assert [samples[i]["rule"] for i in ("paris", "rome", "oslo")] == [FENCED_BLOCK, EMBEDDED, NO_JSON]
    assert samples["oslo"]["unparsed"] is True and {s["task"] for s in samples.values()} == {"json_match"}


def test_a_gold_answer_that_is_not_json_fails_collection_naming_the_row(pytester: pytest.Pytester) -> None:
    _suite(pytester, [*ROWS[:2], {"id": "oslo", "question": "Oslo as JSON?", "answer": "Oslo"}])
    result = pytester.runpytest("--llm-model=scripted", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*cities.json: row 3: sample 'oslo': answer 'Oslo' is not JSON*"])
