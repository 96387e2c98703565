"""``--llm-early-stop`` end to end: a real OpenAI-compatible server on 127.0.0.1 counts what is sent.

A subject far from its threshold is decided after a few dozen samples: the rest are never sent
(withdrawn from the queue) and their items are skipped with the reason; the verdict is the full
run's. A subject at its threshold is asked in full. A rerun answers from the journal and sends
nothing. The same with and without ``-n 2``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import read_results, read_samples, sample_outcomes, server_args, write_jsonl

pytestmark = pytest.mark.usefixtures("fake_openai_factory")

# subject -> (samples, right answers out of every 20, threshold): clearly above or below, and N = 2,000
CLEAR = {"high": (500, 19, 0.6), "low": (500, 6, 0.6), "good": (500, 18, 0.7), "poor": (500, 4, 0.5)}
PROMPT = "{question}\n{choices}\nAnswer:"


def rows(subjects: dict[str, tuple[int, int, float]]) -> list[dict[str, Any]]:
    return [{"id": f"{s}-{i}", "topic": s, "question": f"{s} question {i}?", "choices": ["w", "x", "y", "z"],
             "answer": "B"} for s, (n, _, _) in subjects.items() for i in range(n)]


def replies(subjects: dict[str, tuple[int, int, float]]) -> dict[str, str]:
    """Right ("B") for ``right`` of every 20 samples of a subject, wrong ("C") for the rest."""
    scripted = {}
    for row in rows(subjects):
        right = subjects[row["topic"]][1]
        index = int(row["id"].rsplit("-", 1)[1])
        choices = "\n".join(f"{label}. {text}" for label, text in zip("ABCD", row["choices"]))
        scripted[PROMPT.format(question=row["question"], choices=choices)] = "B" if index % 20 < right else "C"
    return scripted


def full_verdicts(subjects: dict[str, tuple[int, int, float]]) -> dict[str, bool]:
    """What a run asking every sample decides: the score over all of them against the threshold."""
    verdicts = {}
    for name, (n, right, threshold) in subjects.items():
        correct = sum(i % 20 < right for i in range(n))
        verdicts[name] = correct / n >= threshold
    return verdicts


def write_suite(pytester: pytest.Pytester, subjects: dict[str, tuple[int, int, float]], extra: str = "") -> None:
    write_jsonl(pytester.path / "data" / "stop.jsonl", rows(subjects))
    thresholds = json.dumps({name: t for name, (_, _, t) in subjects.items()})
    pytester.makefile(".llmeval.yaml", stop=(
        "name: stop\ntask: multiple_choice\n"
        "data:\n  format: jsonl\n  path: data/stop.jsonl\n  fields: {subject: topic}\n"
        f"prompt: {json.dumps(PROMPT)}\nthresholds: {thresholds}\n" + extra))


def verdicts(folder: Any) -> dict[str, bool]:
    return {row["subject"]: row["passed"] for row in read_results(folder)["subjects"]}


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_clear_subjects_stop_early_with_the_full_runs_verdicts(
        pytester: pytest.Pytester, fake_openai_factory: Any, xdist: list[str]) -> None:
    server = fake_openai_factory(replies(CLEAR))
    write_suite(pytester, CLEAR)
    args = [*server_args(server.base_url), "--llm-early-stop", "--llm-concurrency=4", "--llm-report-dir=out", "-q",
            "-p", "no:randomly", *xdist]
    result = pytester.runpytest(*args)
    sent = len(server.requests)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # "low" and "poor" fail their thresholds
    assert verdicts(pytester.path / "out") == full_verdicts(CLEAR) == {"high": True, "low": False, "good": True,
                                                                      "poor": False}
    assert sent < 2000 / 2, f"{sent} requests for 2,000 samples"
    subjects = {row["subject"]: row for row in read_results(pytester.path / "out")["subjects"]}
    samples = read_samples(pytester.path / "out")
    for name, row in subjects.items():
        assert row["total"] == 500 and row["asked"] == row["n"] == row["stopped_early_at"] < 500, row
        skipped = [s for s in samples if s["subject"] == name and s["not_asked"]]
        assert len(skipped) == 500 - row["asked"] and all(s["not_asked_complete"] for s in skipped)
        assert skipped[0]["not_asked"].startswith(f"stopped early at n={row['stopped_early_at']} (verdict ")
    outcomes = sample_outcomes(result)
    assert outcomes["skipped"] == 2000 - sum(row["asked"] for row in subjects.values())
    assert sent >= sum(row["asked"] for row in subjects.values())  # every counted answer was asked now
    result.stdout.fnmatch_lines(["*asked*", "stop/high*28/500*PASS, stopped early at n=28*"])


def test_a_rerun_sends_nothing_and_decides_alike(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    subjects = {"high": (200, 19, 0.6), "low": (200, 6, 0.6)}
    server = fake_openai_factory(replies(subjects))
    write_suite(pytester, subjects)
    args = [*server_args(server.base_url), "--llm-early-stop=0.01", "--llm-report-dir=out", "-q"]
    first = pytester.runpytest(*args)
    sent, rows = len(server.requests), read_results(pytester.path / "out")["subjects"]
    assert first.ret == pytest.ExitCode.TESTS_FAILED and sent < 200
    assert all(row["stopped_early_at"] and row["asked"] == row["stopped_early_at"] for row in rows)
    rerun = pytester.runpytest(*args)
    assert rerun.ret == pytest.ExitCode.TESTS_FAILED
    assert len(server.requests) == sent  # the journal answers every sample the rule needs
    assert read_results(pytester.path / "out")["subjects"] == rows


def borderline_replies(n: int, wrong: int) -> tuple[dict[str, tuple[int, int, float]], dict[str, str]]:
    """A subject of ``n`` samples, ``wrong`` of them wrong and spread evenly over the seeded order,
    the last one right: every prefix scores about the whole, and a subject exactly at its
    threshold is certain to pass only with its very last sample."""
    from pytest_llmeval.samples import seeded_rank

    ids = sorted(range(n), key=lambda i: seeded_rank("stop", "edge", f"edge-{i}"))
    wrong_ids = {ids[k * n // wrong] for k in range(wrong)}
    assert len(wrong_ids) == wrong and ids[-1] not in wrong_ids
    subjects = {"edge": (n, 20, 1 - wrong / n)}
    scripted = replies(subjects)
    for text in list(scripted):
        index = int(text.split(" question ")[1].split("?")[0])
        scripted[text] = "C" if index in wrong_ids else "B"
    return subjects, scripted


def test_a_borderline_subject_is_asked_in_full(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    subjects, scripted = borderline_replies(100, 40)  # 60 right: exactly at its threshold of 0.6
    server = fake_openai_factory(scripted)
    write_suite(pytester, subjects, extra="early_stop: {alpha: 0.01}\n")
    result = pytester.runpytest(*server_args(server.base_url), "--llm-report-dir=out", "-q")
    assert result.ret == pytest.ExitCode.OK
    (row,) = read_results(pytester.path / "out")["subjects"]
    assert (row["asked"], row["total"], row["stopped_early_at"], row["passed"]) == (100, 100, None, True)
    assert len(server.requests) == 100


def test_an_early_stopped_run_is_not_compared_with_a_baseline(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    subjects = {"high": (100, 19, 0.6)}
    server = fake_openai_factory(replies(subjects))
    write_suite(pytester, subjects)
    result = pytester.runpytest(*server_args(server.base_url), "--llm-early-stop", "--llm-baseline=base.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*baseline base.json not compared: 1 subject(s) stopped early (--llm-early-stop, "
                                 "first: test-model stop/high); run without it to compare*"])
    assert not (pytester.path / "base.json").exists()


@pytest.mark.parametrize(("args", "line"), [
    (["--llm-early-stop=0.9"], "--llm-early-stop: expected a number > 0 and <= 0.5, got 0.9"),
    (["--llm-early-stop=often"], "--llm-early-stop: expected a number > 0 and <= 0.5, got 'often'"),
    (["--llm-early-stop", "--llm-shard=1/2"], "--llm-early-stop with --llm-shard: *"),
    (["--llm-early-stop", "--llm-update-baseline"], "--llm-early-stop with --llm-update-baseline: *"),
    (["--llm-early-stop", "--llm-gate=ci-low"], "--llm-early-stop with --llm-gate=ci-low: *"),
    (["--llm-early-stop", "-n", "2", "--dist=each"], "*--llm-early-stop with --dist=each: a subject's samples must stay on one worker*"),
])
def test_what_early_stopping_cannot_serve_is_one_usage_line(pytester: pytest.Pytester, args: list[str], line: str) -> None:
    subjects = {"high": (10, 19, 0.6)}
    write_suite(pytester, subjects)
    result = pytester.runpytest("--llm-model=m", "--llm-base-url=http://127.0.0.1:9/v1", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{line}"])
    assert "Traceback" not in result.stderr.str()


def test_a_suite_key_out_of_range_fails_collection_in_one_line(pytester: pytest.Pytester) -> None:
    write_suite(pytester, {"high": (10, 19, 0.6)}, extra="early_stop: {alpha: 0}\n")
    result = pytester.runpytest("--llm-model=m", "--llm-base-url=http://127.0.0.1:9/v1")
    result.stdout.fnmatch_lines(["*stop.llmeval.yaml*early_stop.alpha*expected a number > 0 and <= 0.5, got 0*"])


def test_the_controller_replays_the_rule_on_graded_scores_in_the_seeded_order() -> None:
    """The verdict of a subject stopped early is the rule's over its samples in their seeded
    order (scores in [0, 1], aggregate mean), whatever order they were reported in."""
    from pytest_llmeval.results.aggregate import aggregate
    from pytest_llmeval.results.payload import SampleResult
    from pytest_llmeval.results.sequential import replay, stop_reason
    from pytest_llmeval.samples import seeded_rank

    ids = sorted((f"s{i}" for i in range(400)), key=lambda i: seeded_rank("stop", "x", i))
    scores = {i: 0.8 + 0.2 * (k % 3 == 0) - 0.6 * (k % 7 == 0) for k, i in enumerate(ids)}  # mean about 0.78
    gate = replay((scores[i] for i in ids), 0.5, 0.05, len(ids))
    assert gate.verdict == "pass" and gate.stopped_at is not None and gate.stopped_at < 100
    results = []
    for rank, sample_id in enumerate(reversed(ids)):  # reported in another order
        r = SampleResult(model="m", suite="stop", subject="x", id=sample_id, version="v", nodeid=sample_id,
                         threshold=0.5, aggregate="mean", early_stop=0.05)
        if ids.index(sample_id) < gate.stopped_at:
            r.set_verdict(scores[sample_id] >= 0.5, scores[sample_id])
        else:
            r.set_not_asked(stop_reason(gate), complete=True)
        results.append(r)
    (row,) = aggregate(results).subjects
    assert (row.passed, row.stopped_early_at, row.asked, row.total, row.n) == (True, gate.stopped_at, gate.stopped_at,
                                                                              400, gate.stopped_at)
    assert row.statistic == "mean"


def test_members_of_a_gated_group_are_asked_in_full(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    """A group's gate is decided from its members' data: a member of a gated group is never
    stopped early; a group without a threshold reports what its members asked."""
    subjects = {"high": (60, 19, 0.6), "low": (60, 6, 0.6), "solo": (60, 19, 0.6)}
    server = fake_openai_factory(replies(subjects))
    write_suite(pytester, subjects, extra="groups: {both: {subjects: [high, low], threshold: 0.5}, "
                                          "loose: [low, solo]}\n")
    result = pytester.runpytest(*server_args(server.base_url), "--llm-early-stop", "--llm-report-dir=out", "-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # "low" fails its threshold
    document = read_results(pytester.path / "out")
    rows = {row["subject"]: row for row in document["subjects"]}
    assert {name: (row["asked"], row["stopped_early_at"]) for name, row in rows.items()} == {
        "high": (60, None), "low": (60, None), "solo": (rows["solo"]["asked"], rows["solo"]["asked"])}
    assert rows["solo"]["asked"] < 60
    groups = {row["group"]: row for row in document["groups"]}
    assert (groups["both"]["asked"], groups["both"]["total"], groups["both"]["passed"]) == (120, 120, True)
    assert (groups["loose"]["asked"], groups["loose"]["total"]) == (60 + rows["solo"]["asked"], 120)
    assert len(server.requests) >= 120 + rows["solo"]["asked"]
