"""Green means trustworthy: every way a run can measure less than it was asked to (fewer samples,
a dropped gate, a disabled journal, a truncated reply, a value quietly replaced, a report not
written) ends with a non-zero exit status, and the line that says why is printed in red.

``WAYS`` maps each way to the corpus case that shows it end to end (the corpus runs them; this
module checks that every way has one, and that it is not green). The ways the corpus does not
reach are run here, with colours on, to show the red line itself.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import Case, answered, qa_files, run_case, samples_in, unwritable_folder, write_files
from tests.servers.fault_server import FaultServer
from tests.test_corpus_config import JOURNAL_CASES, OPTION_CASES, PROFILE_CASES
from tests.test_corpus_server import SERVER_CASES
from tests.test_corpus_suites import DATA_CASES, SUITE_CASES

RED = "\x1b[31m"
CASES = {case.id: case for case in SUITE_CASES + DATA_CASES + OPTION_CASES + PROFILE_CASES + JOURNAL_CASES + SERVER_CASES}

# way a run could measure less -> the corpus cases that show it is not green
WAYS = {
    "fewer samples: an id given twice would count one of two rows": ["duplicate-ids", "ids-colliding-as-node-ids"],
    "fewer samples: a data file without rows": ["header-only-csv", "empty-jsonl", "one-empty-subject-file"],
    "fewer samples: a row read short or shifted": ["short-csv-row", "too-many-fields"],
    "fewer samples: fewer few-shot examples than asked": ["few-shot-fewer-than-asked"],
    "a dropped or changed gate: a key given twice": ["threshold-given-twice", "subject-threshold-given-twice"],
    "a value quietly replaced: 0 read as the default": ["option-timeout-0", "option-limit-0", "profile-timeout-zero",
                                                         "suite-max-tokens-zero"],
    "a sample asked as nan or None": ["nan-option", "null-question", "nan-answer"],
    "a truncated reply scored as complete": ["stream-cut-short", "closed-mid-body", "chunked-body-never-ends"],
    "a reply that is not the model's answer": ["html-page-with-200", "empty-choices", "huge-reply"],
    "a wait that never ends": ["retry-after-too-long", "never-answers-with-a-deadline"],
}
# shown elsewhere, end to end: a disabled journal (test_corpus_config: cache-read-only, and
# test_corpus_process: a journal that stops recording), an interrupted run (test_corpus_process:
# SIGTERM and Ctrl-C mark results.json as partial), and a report not written (below).


@pytest.mark.parametrize("way", WAYS)
def test_every_way_has_a_case_that_is_not_green(way):
    for name in WAYS[way]:
        case = CASES[name]
        assert case.ret != pytest.ExitCode.OK, (way, name)


def _red(result: pytest.RunResult, text: str) -> None:
    """``text`` is on a line printed in red (the terminal's colours on)."""
    lines = [line for line in result.outlines if text in line]
    assert lines and all(RED in line for line in lines), result.stdout.str()


def test_a_cut_reply_fails_the_run_in_red(pytester, corpus_server):
    case = Case("green-cut", qa_files("green-cut"), ("--llm-report-dir=out", "--llm-retries=0", "--llm-stream",
                                                      "--color=yes"), pytest.ExitCode.TESTS_FAILED, "*",
                kept=answered(3, errors=1), faults={"green-cut question 1": ["cut"]},
                replies={f"green-cut question {i}": "ok" for i in range(3)})
    result = run_case(pytester, case, corpus_server)
    _red(result, "1 sample had a backend error (m qa/qa id=s1: ")


def test_a_report_that_cannot_be_written_fails_the_run(pytester, corpus_server):
    (pytester.path / "out" / "results.json").mkdir(parents=True)  # where the file must go, a folder is
    case = Case("green-report", qa_files("green-report"), ("--llm-report-dir=out", "--color=yes"),
                pytest.ExitCode.TESTS_FAILED, "*", kept=answered(3),
                replies={f"green-report question {i}": "ok" for i in range(3)})
    result = run_case(pytester, case, corpus_server)
    _red(result, "--llm-report-dir out: could not write ")
    assert len(samples_in(pytester.path / "out")) == 3


def test_a_baseline_that_cannot_be_written_fails_the_run(pytester, corpus_server):
    """Accepting a baseline into a folder that refuses writes: the run fails, saying so."""
    target = unwritable_folder(pytester.path) / "llmeval-baseline.json"
    case = Case("green-baseline", qa_files("green-baseline"),
                ("--llm-report-dir=out", "--llm-update-baseline", f"--llm-baseline={target}", "--color=yes"),
                pytest.ExitCode.TESTS_FAILED, "*", kept=answered(3),
                replies={f"green-baseline question {i}": "ok" for i in range(3)})
    result = run_case(pytester, case, corpus_server)
    _red(result, f"baseline {target}: could not write")
    assert not target.exists()


def test_samples_that_cannot_be_written_fail_the_run(pytester):
    """No file may grow past 4 KiB: samples.jsonl (under 1 KiB a sample) stops after a few. The
    run goes on and fails, saying from which sample on the file is incomplete."""
    write_files(pytester.path, qa_files("green-samples", rows=12))
    replies = {f"green-samples question {i}": "ok" for i in range(12)}

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    with FaultServer(replies=replies) as server:
        result = subprocess.run([sys.executable, "-m", "pytest", "--llm-model=m", f"--llm-base-url={server.base_url}",
                                 "--llm-report-dir=out", "--llm-cache=off", "-p", "no:cacheprovider"],
                                cwd=pytester.path, capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    line = next(line for line in output.splitlines() if "samples.jsonl: could not write sample" in line)
    assert line.endswith("and after (File too large); the samples are incomplete"), line
    assert Path(pytester.path / "out" / "samples.jsonl").stat().st_size <= 4096
