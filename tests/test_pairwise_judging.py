"""``--llm-judge-pairwise``: each reply against the baseline's reply to the same sample, asked in
both orders; a subject's wins and losses go to the sign test, and a significant loss fails the run."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from pytest_llmeval.scoring.judge import pairwise_messages

from .e2e import XDIST_MODES, read_results, read_samples

CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Tokyo", "Quito", "Dakar"]
ROWS = [{"id": f"q{i}", "question": f"Capital number {i}?", "answer": city} for i, city in enumerate(CITIES)]
OLD = {r["question"]: f"The capital is {r['answer']}." for r in ROWS}
# Every new reply still contains the answer (the scores do not move), but the judge prefers the
# old one in both orders for q0-q5; for q6 the orders disagree (a tie); q7 is the same reply.
NEW = {**{r["question"]: f"{r['answer'].lower()}??" for r in ROWS[:7]}, ROWS[7]["question"]: OLD[ROWS[7]["question"]]}


def _key(row: dict[str, str], first: str, second: str) -> str:
    return pairwise_messages(row["question"], first, second, reference=row["answer"])[-1]["content"]


def _judged() -> dict[str, str]:
    table = {}
    for row in ROWS[:6]:
        new, old = NEW[row["question"]], OLD[row["question"]]
        table[_key(row, new, old)] = "B is clearer.\nVerdict: [[B]]"
        table[_key(row, old, new)] = "A is clearer.\nVerdict: [[A]]"
    row = ROWS[6]
    new, old = NEW[row["question"]], OLD[row["question"]]
    table[_key(row, new, old)] = "Verdict: [[A]]"
    table[_key(row, old, new)] = "Verdict: [[A]]"  # the judge followed the position: a tie
    return table


def _setup(pytester: pytest.Pytester, replies: dict[str, str], judged: dict[str, Any]) -> None:
    pytester.path.joinpath("capitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pytester.makefile(".llmeval.yaml", capitals="task: contains\ndata: {format: jsonl, path: capitals.jsonl, "
                                               "subject: geo}\nprompt: '{question}'\nscoring: {ignore_case: true}\n")
    models = {"models": {
        "scripted": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": replies}},
        "judge-model": {"backend": "pytest_llmeval.testing:ScriptedBackend", "options": {"replies": judged}},
    }}
    pytester.makefile(".yaml", llm_models=json.dumps(models))


def _accept_old(pytester: pytest.Pytester) -> None:
    _setup(pytester, OLD, {})
    accepted = pytester.runpytest("--llm-model=scripted", "--llm-update-baseline", "--llm-baseline=base.json",
                                  "-p", "no:cacheprovider", "--llm-cache=off")
    assert accepted.ret == pytest.ExitCode.OK, accepted.stdout.str()


PAIRWISE = ["--llm-model=scripted", "--llm-judge=judge-model", "--llm-judge-pairwise", "--llm-baseline=base.json",
            "-p", "no:cacheprovider", "--llm-cache=off"]


@pytest.mark.parametrize("xdist", XDIST_MODES[::2])
def test_a_significant_loss_against_the_baselines_replies_fails_the_run(pytester: pytest.Pytester,
                                                                       xdist: list[str]) -> None:
    _accept_old(pytester)
    _setup(pytester, NEW, _judged())
    result = pytester.runpytest(*PAIRWISE, "--llm-report-dir=out", *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*pairwise regression: scripted capitals/geo vs baseline (judge judge-model): "
                                 "0 wins, 2 ties, 6 losses (sign test p=0.0312)*"])
    document = read_results(pytester.path / "out")
    assert document["pairwise"] == [{
        "model": "scripted", "suite": "capitals", "subject": "geo", "judge": "judge-model", "wins": 0, "ties": 2,
        "losses": 6, "unparsed": 0, "errors": 0, "p_value": 0.03125, "significance": 0.05, "regressed": True}]
    assert document["regressions"] == []  # every reply still contains its answer: only the judge sees the loss
    samples = {s["id"]: s["pairwise"] for s in read_samples(pytester.path / "out")}
    assert samples["q0"]["orders"] == ["B", "A"] and samples["q0"]["outcome"] == "loss"
    assert samples["q6"]["outcome"] == "tie" and samples["q7"] == {"judge": "judge-model", "outcome": "tie",
                                                                   "orders": [], "identical": True}


def test_shards_merge_to_the_same_pairwise_verdict(pytester: pytest.Pytester) -> None:
    _accept_old(pytester)
    _setup(pytester, NEW, _judged())
    for shard in ("1/2", "2/2"):
        pytester.runpytest(*PAIRWISE, f"--llm-shard={shard}", f"--llm-report-dir=shard{shard[0]}")
    merged = subprocess.run([sys.executable, "-m", "pytest_llmeval", "merge", "shard1", "shard2", "--out", "merged"],
                            cwd=pytester.path, capture_output=True, text=True)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert "pairwise regression: scripted capitals/geo" in merged.stdout
    assert read_results(pytester.path / "merged")["pairwise"][0]["losses"] == 6


def test_too_few_losses_are_not_a_regression(pytester: pytest.Pytester) -> None:
    _accept_old(pytester)
    judged = {k: v for k, v in _judged().items() if "number 0?" in k or "number 1?" in k}  # two losses
    judged |= {_key(r, NEW[r["question"]], OLD[r["question"]]): "Verdict: [[TIE]]" for r in ROWS[2:7]}
    judged |= {_key(r, OLD[r["question"]], NEW[r["question"]]): "Verdict: [[TIE]]" for r in ROWS[2:7]}
    _setup(pytester, NEW, judged)
    result = pytester.runpytest(*PAIRWISE)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*pairwise: scripted capitals/geo vs baseline (judge judge-model): 0 wins, 6 ties, "
                                 "2 losses (sign test p=0.5)*"])


def test_a_judge_that_cannot_compare_fails_the_run(pytester: pytest.Pytester) -> None:
    _accept_old(pytester)
    _setup(pytester, NEW, {**_judged(), _key(ROWS[6], NEW[ROWS[6]["question"]], OLD[ROWS[6]["question"]]):
                           {"fail": "error", "message": "judge down"}})
    result = pytester.runpytest(*PAIRWISE)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*pairwise judging failed for 1 sample(s) of scripted capitals/geo*"])


def test_pairwise_needs_a_baseline(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llm-judge=j", "--llm-judge-pairwise", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-judge-pairwise needs the baseline whose replies it compares with*"])
