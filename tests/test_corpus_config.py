"""Bad-input corpus, configuration: options, model profiles, paths, the journal and the baseline.
Every numeric setting has a range and nothing is replaced silently; a path the run cannot use is
a usage error naming it; the journal opens or the run says why, and a damaged one is set aside,
never lost. (tests/corpus.py explains the three checks every case makes.)"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.corpus import Case, answered, qa_files, run_case, samples_in, unwritable_folder

USAGE = pytest.ExitCode.USAGE_ERROR
OK = pytest.ExitCode.OK
FAILED = pytest.ExitCode.TESTS_FAILED
RUN = ("--llm-report-dir=out", "--llm-cache=journal.sqlite3")


def _option(name: str, value: str, line: str) -> Case:
    return Case(f"option-{name}-{value}", qa_files(f"option-{name}"), (*RUN, f"--llm-{name}={value}"), USAGE,
                f"ERROR: --llm-{name}: {line}")


def _profile(case: str, body: str, line: str, ret: int = USAGE, **kwargs: object) -> Case:
    return Case(case, {**qa_files(case), "llm_models.yaml": body}, RUN, ret, line, server=False,  # type: ignore[arg-type]
                **kwargs)  # type: ignore[arg-type]


OPTION_CASES = [
    _option("timeout", "0", "expected a number > 0, got 0"),
    _option("deadline", "0", "expected a number > 0, got 0"),
    _option("max-tokens", "0", "expected an integer >= 1, got 0"),
    _option("limit", "0", "expected an integer >= 1, got 0"),
    _option("retries", "-1", "expected an integer >= 0, got -1"),
    _option("concurrency", "0", "expected an integer >= 1, got 0"),
    _option("concurrency", "lots", "expected an integer >= 1 or auto, got 'lots'"),
    _option("rate", "nan", "expected a number > 0, got nan"),
    _option("temperature", "inf", "expected a number >= 0, got inf"),
    _option("regression-tolerance", "2", "expected a number from 0 to 1, got 2"),
    _option("regression-significance", "0", "expected a number > 0 and <= 1, got 0"),
    _option("flips", "-1", "expected an integer >= 0, got -1"),
    _option("progress", "-5", "expected a number >= 0, got -5"),
    _option("shard", "0/2", "expected I/N with 1 <= I <= N, e.g. 1/4, got '0/2'"),
    _option("shard", "3/2", "expected I/N with 1 <= I <= N, e.g. 1/4, got '3/2'"),
    _option("gate", "lower", "expected score or ci-low, got 'lower'"),
    Case("option-latency-bad-key", qa_files("option-latency"), (*RUN, "--llm-latency=ttft_p95=500"), USAGE,
         "ERROR: --llm-latency ttft_p95: expected <metric>_p<percentile>_ms*"),
    Case("option-base-url-without-scheme", qa_files("base-url"), (*RUN, "--llm-model=m", "--llm-base-url=127.0.0.1:8000/v1"),
         USAGE, "ERROR: --llm-base-url: expected an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1, got "
                "'127.0.0.1:8000/v1'", server=False),
    Case("option-not-a-number", qa_files("not-a-number"), (*RUN, "--llm-limit=ten"), USAGE,
         "*argument --llm-limit: invalid int value: 'ten'"),
    Case("ini-timeout-not-a-number", {**qa_files("ini-timeout"), "pytest.ini": "[pytest]\nllm_timeout = soon\n"}, RUN,
         USAGE, "ERROR: ini option llm_timeout: expected a number > 0, got 'soon'"),
    Case("ini-limit-zero", {**qa_files("ini-limit"), "pytest.ini": "[pytest]\nllm_limit = 0\n"}, RUN, USAGE,
         "ERROR: ini option llm_limit: expected an integer >= 1, got 0"),
]

PROFILE_CASES = [
    _profile("profile-model-given-twice", "models:\n  m:\n    base_url: http://127.0.0.1:9/v1\n  m:\n    max_tokens: 5\n",
             "ERROR: *llm_models.yaml:4: models.m: given twice (first at line 2); keep one"),
    _profile("profile-timeout-zero", "models:\n  m:\n    base_url: http://127.0.0.1:9/v1\n    timeout: 0\n",
             "ERROR: *llm_models.yaml:4: models.m.timeout: expected a number > 0, got 0"),
    _profile("profile-base-url-without-scheme", "models:\n  m:\n    base_url: localhost:8000/v1\n",
             "ERROR: *llm_models.yaml:3: models.m.base_url: expected an http:// or https:// URL*got 'localhost:8000/v1'"),
    _profile("profile-concurrency-fraction", "models:\n  m:\n    base_url: http://127.0.0.1:9/v1\n    concurrency: 2.5\n",
             "ERROR: *llm_models.yaml:4: models.m.concurrency: expected an integer >= 1, got 2.5"),
    _profile("profile-retries-boolean", "models:\n  m:\n    base_url: http://127.0.0.1:9/v1\n    retries: yes\n",
             "ERROR: *llm_models.yaml:4: models.m.retries: expected an integer >= 0, got True"),
    _profile("profile-unknown-key", "models:\n  m:\n    base_ur1: http://127.0.0.1:9/v1\n",
             "ERROR: *llm_models.yaml:3: models.m.base_ur1: unknown key"),
    _profile("profile-default-unknown", "default: nope\nmodels:\n  m: {base_url: 'http://127.0.0.1:9/v1'}\n",
             "ERROR: *llm_models.yaml: default: no model profile named 'nope'"),
    _profile("profile-not-utf8", b"models:\n  m: {base_url: 'http://h\xff/v1'}\n",  # type: ignore[arg-type]
             "ERROR: *llm_models.yaml:2: not UTF-8 text*"),
]

JOURNAL = "journal.sqlite3"


def _replies(case: str, n: int = 3) -> dict[str, str]:
    return {f"{case} question {i}": "ok" for i in range(n)}


def _aside_keeps(old: bytes, kind: str) -> object:
    """The run went on with a fresh journal, and the old file is kept, renamed, byte for byte."""
    def check(pytester: pytest.Pytester, case: Case, result: pytest.RunResult) -> None:
        answered(3)(pytester, case, result)
        aside = list(pytester.path.glob(f"{JOURNAL}.{kind}-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == old
        assert any("set aside as" in line for line in result.outlines if line.startswith("pytest-llmeval:"))
    return check


def _db(tables: str) -> bytes:
    """The bytes of a SQLite file holding ``tables`` (a script), made in a temporary folder."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.sqlite3"
        with closing(sqlite3.connect(path)) as db:
            db.executescript(tables)
            db.commit()
        return path.read_bytes()


GARBAGE = b"this was never a database " * 40
FOREIGN = _db("CREATE TABLE replies (a, b); INSERT INTO replies VALUES (1, 2);")
OTHER_APP = _db("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")

JOURNAL_CASES = [
    Case("journal-corrupt", {**qa_files("journal-corrupt"), JOURNAL: GARBAGE}, RUN, OK,
         f"pytest-llmeval: the journal *{JOURNAL} is corrupt (file is not a database): set aside as {JOURNAL}.corrupt-*",
         kept=_aside_keeps(GARBAGE, "corrupt"), replies=_replies("journal-corrupt")),  # type: ignore[arg-type]
    Case("journal-foreign-schema", {**qa_files("journal-foreign"), JOURNAL: FOREIGN}, RUN, OK,
         f"pytest-llmeval: the journal *{JOURNAL} is foreign (table replies has columns a, b): set aside as*",
         kept=_aside_keeps(FOREIGN, "foreign"), replies=_replies("journal-foreign")),  # type: ignore[arg-type]
    Case("journal-of-another-program", {**qa_files("journal-other"), JOURNAL: OTHER_APP}, RUN, OK,
         "pytest-llmeval: the journal * is foreign (a database of another program, with tables users): set aside*",
         kept=_aside_keeps(OTHER_APP, "foreign"), replies=_replies("journal-other")),  # type: ignore[arg-type]
]

BASELINE_TWICE = '{"created": "x", "llmeval_baseline": 1, "models": {"m": {}, "m": {}}}\n'
BASELINE_CASES = [
    Case("baseline-key-given-twice", {**qa_files("baseline-twice"), "baseline.json": BASELINE_TWICE},
         (*RUN, "--llm-baseline=baseline.json"), FAILED,
         "baseline baseline.json: models.m: given twice in one object (a merge gone wrong?); keep one",
         kept=answered(3), replies=_replies("baseline-twice")),
    Case("baseline-not-utf8", {**qa_files("baseline-latin"), "baseline.json": b'{"created": "caf\xe9"}'},
         (*RUN, "--llm-baseline=baseline.json"), FAILED,
         "baseline baseline.json: not UTF-8 text (invalid continuation byte at byte 16)",
         kept=answered(3), replies=_replies("baseline-latin")),
]


@pytest.mark.parametrize("case", OPTION_CASES + PROFILE_CASES + JOURNAL_CASES + BASELINE_CASES, ids=repr)
def test_configuration_cases(pytester, corpus_server, case):
    run_case(pytester, case, corpus_server)


@pytest.mark.parametrize(("case", "args", "line"), [
    ("report-dir-is-a-file", ["--llm-report-dir=qa.llmeval.yaml"],
     "ERROR: --llm-report-dir qa.llmeval.yaml: is a file, expected a folder"),
    ("report-dir-under-a-file", ["--llm-report-dir=qa.llmeval.yaml/out"],
     "ERROR: --llm-report-dir qa.llmeval.yaml/out: qa.llmeval.yaml is a file, so nothing can be made under it"),
    ("report-dir-read-only", ["--llm-report-dir={ro}/out"], "ERROR: --llm-report-dir {ro}/out: cannot write there (*)"),
    ("baseline-is-a-folder", ["--llm-baseline=data"], "ERROR: --llm-baseline data: is a folder, expected a file"),
    ("baseline-under-a-file", ["--llm-baseline=qa.llmeval.yaml/b.json"],
     "ERROR: --llm-baseline qa.llmeval.yaml/b.json: qa.llmeval.yaml is a file, so nothing can be made under it"),
    ("cache-is-a-folder", ["--llm-cache=data"], "ERROR: --llm-cache data: is a folder, expected a file"),
    ("cache-under-a-file", ["--llm-cache=qa.llmeval.yaml/j.sqlite3"],
     "ERROR: --llm-cache qa.llmeval.yaml/j.sqlite3: qa.llmeval.yaml is a file, so nothing can be made under it"),
    ("cache-read-only", ["--llm-cache={ro}/j.sqlite3"],
     "ERROR: --llm-cache: cannot open the journal {ro}/j.sqlite3 (*); --llm-cache=PATH puts it elsewhere, "
     "--llm-cache=off runs without one (and without resuming)"),
])
def test_unusable_paths_are_usage_errors(pytester, corpus_server, case, args, line):
    ro = str(unwritable_folder(pytester.path)) if any("{ro}" in a for a in args) else ""
    run_case(pytester, Case(case, qa_files(case), [a.format(ro=ro) for a in args], USAGE, line.format(ro=ro)),
             corpus_server)


def test_a_missing_key_variable_stops_the_run_with_one_line(pytester, corpus_server, monkeypatch):
    monkeypatch.delenv("CORPUS_UNSET_KEY", raising=False)
    case = Case("key-variable-unset", qa_files("key-unset"), (*RUN, "--llm-api-key-env=CORPUS_UNSET_KEY"),
                pytest.ExitCode.INTERRUPTED, "*Interrupted: pytest-llmeval: api_key_env: environment variable "
                                             "CORPUS_UNSET_KEY is not set*",
                kept=answered(1, errors=1, journaled=0))
    run_case(pytester, case, corpus_server)
    assert not [e for e in corpus_server.log if e.prompt.startswith("key-unset")]  # nothing was sent


def test_a_set_aside_journal_is_said_in_the_summary_and_results(pytester, corpus_server):
    case = JOURNAL_CASES[0]
    run_case(pytester, Case("journal-noted", {**qa_files("journal-noted"), JOURNAL: GARBAGE}, RUN, OK,
                            "*set aside as*", kept=case.kept, replies=_replies("journal-noted")), corpus_server)
    import json

    notes = json.loads((pytester.path / "out" / "results.json").read_text())["verdict"]["notes"]
    assert any("set aside as journal.sqlite3.corrupt-" in note for note in notes)
    assert len(samples_in(pytester.path / "out")) == 3
