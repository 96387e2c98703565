"""The answer reader on 480 real replies of the bundled model, each labelled by a person who read it
(tests/data/README.md): the targets of issue 13, and a replay of part of the corpus through the
plugin end to end, against a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from typing import Any

import pytest

from pytest_llmeval.scoring import read_choice, rules
from tests.reply_corpus import LETTERS, load_corpus, tally
from tests.e2e import XDIST_MODES, read_results, read_samples, sample_outcomes, server_args, write_jsonl

ROWS = load_corpus()
LABELS = {*LETTERS, "NONE", "AMBIGUOUS"}


def _read(row: dict[str, Any]) -> str | None:
    return read_choice(row["reply"], LETTERS, row["options"]).letter


def test_the_corpus_covers_what_issue_13_asks() -> None:
    assert len(ROWS) >= 400 and len({r["id"] for r in ROWS}) == len(ROWS)
    cells = Counter((r["language"], r["style"], r["max_tokens"]) for r in ROWS)
    assert {language for language, _, _ in cells} == {"en", "zh"}
    assert len({style for _, style, _ in cells}) >= 5 and {m for _, _, m in cells} == {16, 256}
    assert min(cells.values()) >= 20
    assert {r["source"] for r in ROWS} == {"mmlu/test", "cmmlu/test", "ceval/val"}
    assert all(r["label"] in LABELS and r["note"] and len(r["options"]) == 4 for r in ROWS)
    assert sum(r["heldout"] for r in ROWS) == len(ROWS) // 4
    reread = [r for r in ROWS if r["reread"] is not None]  # a tenth, read a second time, blind
    assert len(reread) == len(ROWS) // 10 and sum(r["reread"] == r["label"] for r in reread) >= 0.9 * len(reread)
    # real replies of every kind: answers, non-answers and self-contradictions
    kinds = Counter("letter" if r["label"] in LETTERS else r["label"] for r in ROWS)
    assert min(kinds.values()) >= 40


def test_issue_13_targets_hold_on_the_whole_corpus() -> None:
    counts = tally(ROWS, _read)
    assert counts.right_share >= 0.97, f"{counts.right} of {counts.lettered} letter-labelled replies read right"
    assert counts.other_letter_share <= 0.005, f"{counts.other_letter} read as a different letter"
    assert counts.unparsed_share >= 0.90, f"{counts.unparsed} of {counts.unanswered} NONE/AMBIGUOUS read as unparsed"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_language_is_carried_by_the_other(language: str) -> None:
    counts = tally([r for r in ROWS if r["language"] == language], _read)
    assert counts.right_share >= 0.95 and counts.other_letter == 0 and counts.unparsed_share >= 0.90


def test_every_unparsed_reading_says_why() -> None:
    readings = [read_choice(r["reply"], LETTERS, r["options"]) for r in ROWS]
    assert all((c.letter is None) == (c.rule in rules.UNPARSED) for c in readings)
    assert {c.rule for c in readings if c.letter is None} >= {rules.ECHOED_OPTIONS, rules.CONFLICTING, rules.NO_ANSWER}


# -- the plugin's path: a loopback server replays recorded replies, the plugin scores them ------

REPLAYED = sorted(ROWS, key=lambda r: zlib.crc32(f"replay/{r['id']}".encode()))[:120]
PROMPT = "{question}\n{choices}"


def _message(row: dict[str, Any]) -> str:
    return PROMPT.format(question=row["question"],
                         choices="\n".join(f"{label}. {text}" for label, text in zip(LETTERS, row["options"])))


def _suite(pytester: pytest.Pytester) -> None:
    write_jsonl(pytester.path / "data" / "corpus.jsonl", [
        {"qid": r["id"], "topic": f"{r['language']}_{r['style']}", "question": r["question"],
         "options": r["options"], "answer": r["target"]} for r in REPLAYED])
    pytester.makefile(".llmeval.yaml", corpus=(
        "name: corpus\ntask: multiple_choice\n"
        "data:\n  format: jsonl\n  path: data/corpus.jsonl\n"
        "  fields: {id: qid, subject: topic, question: question, choices: options, target: answer}\n"
        f"prompt: {json.dumps(PROMPT)}\n"))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_replayed_replies_are_read_by_the_plugin_as_by_a_person(pytester: pytest.Pytester, fake_openai_factory: Any,
                                                                 xdist: list[str]) -> None:
    assert len({_message(r) for r in REPLAYED}) == len(REPLAYED)  # one scripted reply per question
    server = fake_openai_factory(replies={_message(r): r["reply"] for r in REPLAYED})
    _suite(pytester)
    result = pytester.runpytest(*server_args(server.base_url, "smollm2-replayed"), "--llm-report-dir=out", *xdist)
    assert result.ret == 0 and sum(sample_outcomes(result).values()) == len(REPLAYED)
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    by_id = {r["id"]: r for r in REPLAYED}
    counts = tally(REPLAYED, lambda r: samples[r["id"]]["extracted"])
    assert counts.right_share >= 0.97 and counts.other_letter == 0 and counts.unparsed_share >= 0.90
    for sample_id, sample in samples.items():  # the plugin reads exactly as the function does
        reading = read_choice(by_id[sample_id]["reply"], LETTERS, by_id[sample_id]["options"])
        assert (sample["extracted"], sample["rule"], sample["unparsed"]) == (reading.letter, reading.rule,
                                                                              reading.letter is None)
    for row in read_results(pytester.path / "out")["subjects"]:
        members = [s for s in samples.values() if s["subject"] == row["subject"]]
        assert row["unparsed"] == sum(s["unparsed"] for s in members)
        assert row["unparsed_share"] == pytest.approx(row["unparsed"] / row["n"])
    result.stdout.fnmatch_lines(["*suite/subject*score*95% CI*unparsed*verdict*"])
