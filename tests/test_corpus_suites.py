"""Bad-input corpus, suite files and data: a suite that cannot be measured as written fails
collection with one line naming the file, the line and what was expected; a run never goes on
with a gate dropped, a value replaced or a sample asked as ``nan``. (tests/corpus.py explains
the three checks every case makes.)"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.corpus import Case, answered, qa_files, run_case

COLLECTION = pytest.ExitCode.INTERRUPTED  # a collection error stops the session before any sample
OK = pytest.ExitCode.OK
RUN = ("--llm-report-dir=out", "--llm-cache=journal.sqlite3")


def _suite(body: str, data: str = "", name: str = "bad") -> dict[str, str | bytes]:
    """``body`` as bad.llmeval.yaml beside a two-row data/d.jsonl (or ``data``)."""
    rows = data or ('{"id": "a", "question": "suites q1", "answer": "ok"}\n'
                    '{"id": "b", "question": "suites q2", "answer": "ok"}\n')
    return {"data/d.jsonl": rows, f"{name}.llmeval.yaml": body}


QA_SUITE = str(qa_files("any")["qa.llmeval.yaml"])
HEAD = "task: exact_match\ndata: {format: jsonl, path: data/d.jsonl}\nprompt: '{question}'\n"
MC_HEAD = "task: multiple_choice\ndata: {format: jsonl, path: data/mc.jsonl}\nprompt: '{question}'\n"


def _mc(*rows: dict[str, object]) -> dict[str, str | bytes]:
    data = "".join(json.dumps(r) + "\n" for r in rows)
    return {"data/mc.jsonl": data, "bad.llmeval.yaml": MC_HEAD}


def _csv(text: str, head: str = "id,question,A,B,answer\n") -> dict[str, str | bytes]:
    suite = "task: multiple_choice\ndata: {format: csv, path: data/q.csv}\nprompt: '{question}'\n"
    return {"data/q.csv": head + text, "bad.llmeval.yaml": suite}


SUITE_CASES = [
    Case("threshold-given-twice", _suite(HEAD + "threshold: 0.9\nthreshold: 0.1\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:5: threshold: given twice (first at line 4); keep one"),
    Case("nested-key-given-twice", _suite("task: exact_match\ndata:\n  format: jsonl\n  path: data/d.jsonl\n"
                                          "  path: data/other.jsonl\nprompt: '{question}'\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:5: data.path: given twice (first at line 4); keep one"),
    Case("subject-threshold-given-twice", _suite(HEAD + "thresholds:\n  d: 0.5\n  d: 0.1\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:6: thresholds.d: given twice*"),
    Case("suite-not-utf8", {"data/d.jsonl": "{}\n", "bad.llmeval.yaml": b"task: exact_match\n# caf\xe9\nprompt: x\n"},
         RUN, COLLECTION, "bad.llmeval.yaml:2: not UTF-8 text (invalid continuation byte at byte 23); save the file as UTF-8"),
    Case("suite-empty", _suite(""), RUN, COLLECTION, "bad.llmeval.yaml: the file is empty; expected a mapping of keys"),
    Case("suite-a-list", _suite("- task: exact_match\n"), RUN, COLLECTION,
         "bad.llmeval.yaml: expected a mapping of keys at the top level, got list"),
    Case("prompt-empty", _suite("task: exact_match\ndata: {format: jsonl, path: data/d.jsonl}\nprompt: '  '\n"), RUN,
         COLLECTION, "bad.llmeval.yaml:3: prompt: expected a template with text*got an empty one"),
    Case("template-unknown-field", _suite("task: exact_match\ndata: {format: jsonl, path: data/d.jsonl}\n"
                                          "prompt: '{questoin}'\n"), RUN, COLLECTION,
         "bad.llmeval.yaml: prompt: unknown field {questoin} (fields: *"),
    Case("template-lone-brace", _suite("task: exact_match\ndata: {format: jsonl, path: data/d.jsonl}\n"
                                       "prompt: 'Q: {question'\n"), RUN, COLLECTION,
         "bad.llmeval.yaml: prompt: invalid template*write {{ and }} for literal braces"),
    Case("threshold-above-one", _suite(HEAD + "threshold: 1.5\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:4: threshold: input should be less than or equal to 1 (got 1.5)"),
    Case("suite-limit-zero", _suite(HEAD + "limit: 0\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:4: limit: expected an integer >= 1, got 0"),
    Case("suite-max-tokens-zero", _suite(HEAD + "generation: {max_tokens: 0}\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:4: generation.max_tokens: expected an integer >= 1, got 0"),
    Case("suite-temperature-nan", _suite(HEAD + "generation: {temperature: .nan}\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:4: generation.temperature: expected a number >= 0, got nan"),
    Case("invalid-yaml", _suite("task: exact_match\n\tprompt: x\n"), RUN, COLLECTION,
         "bad.llmeval.yaml:2: invalid YAML: *"),
    Case("data-folder-without-files", {"data/empty/.keep": "", "bad.llmeval.yaml":
                                       "task: exact_match\ndata: {format: jsonl, path: data/empty}\nprompt: '{question}'\n"},
         RUN, COLLECTION, "bad.llmeval.yaml: data.path: no *.jsonl files in *data/empty"),
    Case("few-shot-fewer-than-asked", {
        "data/d/test.jsonl": '{"id": "a", "question": "q", "answer": "ok"}\n',
        "data/d/dev.jsonl": '{"id": "e1", "question": "q", "answer": "ok"}\n{"id": "e2", "question": "q", "answer": "ok"}\n',
        "bad.llmeval.yaml": "task: exact_match\ndata: {format: jsonl, path: data/d, split: test}\nprompt: '{question}'\n"
                            "few_shot: {n: 5, split: dev}\n"}, RUN, COLLECTION,
         "bad.llmeval.yaml: few_shot.n: 5 examples asked for, but split 'dev' has 2 for subject 'd' (*dev.jsonl)"),
    Case("suite-with-a-bom-runs", {**qa_files("bom-suite"), "qa.llmeval.yaml": "\ufeff" + QA_SUITE}, RUN, OK, "qa/qa *PASS", kept=answered(3), replies={f"bom-suite question {i}": "ok" for i in range(3)}),
]

DATA_CASES = [
    Case("duplicate-ids", _suite(HEAD, '{"id": "a", "question": "q1", "answer": "ok"}\n{"id": "b", "question": "q2", '
                                 '"answer": "ok"}\n{"id": "a", "question": "q3", "answer": "ok"}\n'), RUN, COLLECTION,
         "*data/d.jsonl:3: sample id 'a' of subject 'd' is also at line 1; ids must be unique within a subject"),
    Case("ids-colliding-as-node-ids", _suite(HEAD, '{"id": "x/1", "question": "q1", "answer": "ok"}\n'
                                           '{"id": "x_1", "question": "q2", "answer": "ok"}\n'), RUN, COLLECTION,
         "*d.jsonl:2: sample id ('x_1' and 'x/1' both become node id 'x_1') 'x_1' of subject 'd' is also at line 1*"),
    Case("subjects-colliding-as-node-ids", {
        "data/s.jsonl": '{"id": "1", "topic": "a::b", "question": "q", "answer": "ok"}\n'
                        '{"id": "2", "topic": "a_b", "question": "q", "answer": "ok"}\n',
        "bad.llmeval.yaml": "task: exact_match\ndata: {format: jsonl, path: data/s.jsonl, fields: {subject: topic}}\n"
                            "prompt: '{question}'\n"}, RUN, COLLECTION,
         "bad.llmeval.yaml: data: subjects 'a::b' and 'a_b' both become node id 'a_b'; rename one"),
    Case("several-problems-counted", _suite(HEAD, '{"id": "a", "question": "q1", "answer": ""}\n'
                                            '{"id": "a", "question": null, "answer": "ok"}\n'), RUN, COLLECTION,
         "*d.jsonl:1: sample 'a': no answer to score against*(and 2 more problems in this suite's data)"),
    Case("header-only-csv", _csv(""), RUN, COLLECTION,
         "*data/q.csv: no rows; a data file needs at least one sample (remove the file, or fill it)"),
    Case("empty-jsonl", _suite(HEAD, " "), RUN, COLLECTION, "*data/d.jsonl: no rows; *"),
    Case("blank-lines-jsonl", _suite(HEAD, "\n\n  \n"), RUN, COLLECTION, "*data/d.jsonl: no rows; *"),
    Case("one-empty-subject-file", {
        "data/subjects/alg.jsonl": '{"id": "1", "question": "q", "answer": "ok"}\n',
        "data/subjects/bio.jsonl": "",
        "bad.llmeval.yaml": "task: exact_match\ndata: {format: jsonl, path: data/subjects}\nprompt: '{question}'\n"
                            "thresholds: {alg: 0.5}\n"}, RUN, COLLECTION, "*data/subjects/bio.jsonl: no rows; *"),
    Case("nan-option", _mc({"id": "1", "question": "q", "choices": ["x", "y", float("nan")], "answer": "A"}), RUN,
         COLLECTION, "*data/mc.jsonl:1: sample '1': option C has no value (empty, null or NaN in the data)"),
    Case("null-option", _mc({"id": "1", "question": "q", "choices": ["x", None], "answer": "A"}), RUN, COLLECTION,
         "*data/mc.jsonl:1: sample '1': option B has no value*"),
    Case("null-question", _mc({"id": "1", "question": None, "choices": ["x", "y"], "answer": "A"}), RUN, COLLECTION,
         "*data/mc.jsonl:1: sample '1': {question} has no value*"),
    Case("empty-question", _mc({"id": "1", "question": " ", "choices": ["x", "y"], "answer": "A"}), RUN, COLLECTION,
         "*data/mc.jsonl:1: sample '1': {question} has no value*"),
    Case("nan-answer", _mc({"id": "1", "question": "q", "choices": ["x", "y"], "answer": float("nan")}), RUN,
         COLLECTION, "*data/mc.jsonl:1: sample '1': no answer to score against: the answer has no value*"),
    Case("empty-answer-cell", _csv("q1,first,x,y,A\nq2,second,x,y,\n"), RUN, COLLECTION,
         "*data/q.csv:3: sample 'q2': no answer to score against*"),
    Case("short-csv-row", _csv("q1,first,x,y,A\nq2,second,x\n"), RUN, COLLECTION,
         "*data/q.csv:3: 3 fields, expected 5 (a row with too few fields)"),
    Case("short-row-after-a-multiline-cell", _csv('q1,"two\nlines",x,y,A\nq2,second,x,y,B\nq3,third\n'), RUN,
         COLLECTION, "*data/q.csv:5: 2 fields, expected 5*"),
    Case("too-many-fields", _csv("q1,first,x,y,A,extra\n"), RUN, COLLECTION,
         "*data/q.csv:2: 6 fields, expected 5 (a row with too many fields)"),
    Case("too-many-fields-in-one-row", _csv("q1,first,x,y,A\nq2,second,x,y,A,extra\n"), RUN, COLLECTION,
         "*data/q.csv: cannot read CSV (Error tokenizing data. C error: Expected 5 fields in line 3, saw 6)"),
    Case("answer-not-an-option", _mc({"id": "1", "question": "q", "choices": ["x", "y"], "answer": "E"}), RUN,
         COLLECTION, "*data/mc.jsonl:1: sample '1': answer 'E' is neither a letter (A-B)*"),
    Case("numeric-answer-without-number", _suite("task: numeric\ndata: {format: jsonl, path: data/d.jsonl}\n"
                                                 "prompt: '{question}'\n"), RUN, COLLECTION,
         "*data/d.jsonl:1: sample 'a': answer 'ok' holds no number (and 1 more problem in this suite's data)"),
    Case("invalid-json-line", _suite(HEAD, '{"id": "a", "question": "q", "answer": "ok"}\n{"id": \n'), RUN,
         COLLECTION, "*data/d.jsonl:2: invalid JSON (Expecting value at column 8)"),
    Case("csv-not-utf8", {"data/q.csv": b"id,question,A,B,answer\n1,caf\xe9,x,y,A\n", "bad.llmeval.yaml":
                          "task: multiple_choice\ndata: {format: csv, path: data/q.csv}\nprompt: '{question}'\n"},
         RUN, COLLECTION, "*data/q.csv: not UTF-8 text (invalid continuation byte at byte *)"),
    Case("ceval-test-split-has-no-answers", {
        "data/ceval/test/law_test.csv": "id,question,A,B,C,D\n0,q,a,b,c,d\n",
        "bad.llmeval.yaml": "task: multiple_choice\ndata: {format: ceval, path: data/ceval, split: test}\n"
                            "prompt: '{question}'\n"}, RUN, COLLECTION,
         "bad.llmeval.yaml: data.split: test has no answers to score against (C-Eval's test split ships without "
         "answers: use split: val)"),
    Case("mmlu-short-row", {"data/mmlu/test/law_test.csv": "q1,a,b,c,d,A\nq2,a,b,c\n", "bad.llmeval.yaml":
                            "task: multiple_choice\ndata: {format: mmlu, path: data/mmlu}\nprompt: '{question}'\n"},
         RUN, COLLECTION, "*law_test.csv:2: 4 fields, expected 6*"),
    Case("few-shot-example-without-answer", {
        "data/d/test.jsonl": '{"id": "a", "question": "q", "answer": "ok"}\n',
        "data/d/dev.jsonl": '{"id": "e1", "question": "q", "answer": null}\n',
        "bad.llmeval.yaml": "task: exact_match\ndata: {format: jsonl, path: data/d, split: test}\nprompt: '{question}'\n"
                            "few_shot: {n: 1, split: dev}\n"}, RUN, COLLECTION,
         "*dev.jsonl:1: few-shot example 'e1': no answer to score against*"),
    Case("gzip-named-jsonl-runs", {"data/qa.jsonl": gzip.compress(str(qa_files("gzip")["data/qa.jsonl"]).encode()),
                                   "qa.llmeval.yaml": QA_SUITE}, RUN, OK, "qa/qa *PASS", kept=answered(3), replies={f"gzip question {i}": "ok" for i in range(3)}),
    Case("csv-with-a-bom-runs", {"data/q.csv": "\ufeffid,question,A,B,answer\nbom1,csv-bom question,x,y,B\n",
                                 "qa.llmeval.yaml": "name: qa\ntask: multiple_choice\ndata: {format: csv, path: data/q.csv}"
                                                    "\nprompt: '{question}'\nthreshold: 1\n"},
         RUN, OK, "qa/q *1.000*PASS", kept=answered(1), replies={"csv-bom question": "B"}),
]


@pytest.mark.parametrize("case", SUITE_CASES + DATA_CASES, ids=repr)
def test_suite_and_data_cases(pytester, corpus_server, case):
    run_case(pytester, case, corpus_server)


def test_a_bad_suite_leaves_the_last_report_folder_whole(pytester, corpus_server):
    """A run refused at collection writes nothing: the previous run's samples.jsonl still matches
    its results.json (the report folder is opened at start-up, but written only by samples)."""
    good = Case("good-then-bad", qa_files("good-then-bad"), RUN, OK, "qa/qa *PASS", kept=answered(3),
                replies={f"good-then-bad question {i}": "ok" for i in range(3)})
    run_case(pytester, good, corpus_server)
    kept = (pytester.path / "out" / "samples.jsonl").read_bytes()
    bad = Case("then-bad", {"qa.llmeval.yaml": QA_SUITE + "threshold: 0.2\n"}, RUN, COLLECTION, "qa.llmeval.yaml:6: threshold: given twice*")
    run_case(pytester, bad, corpus_server)
    assert (pytester.path / "out" / "samples.jsonl").read_bytes() == kept
