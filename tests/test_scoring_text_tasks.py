"""Tasks rouge, bleu and chrf: the per-sample score is the library's metric (``text_metrics``), a
sample passes when it reaches ``pass_at``, and the suite runs end to end."""

from __future__ import annotations

import json

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring import score_reply, validate_options
from pytest_llmeval.scoring.tasks import REGISTRY, metric_name
from pytest_llmeval.scoring.text_metrics import sample_scores

from .e2e import XDIST_MODES, read_results, read_samples, sample_outcomes

REFERENCE = "The committee postponed the vote until next week."
REPLY = "The vote was postponed by the committee to next week."


@pytest.mark.parametrize(("task", "options", "metric"), [
    ("rouge", {}, "rougeL"), ("rouge", {"rouge": "rouge2"}, "rouge2"), ("bleu", {}, "bleu"), ("chrf", {}, "chrf"),
])
def test_the_score_is_the_librarys_metric_and_pass_at_decides(task: str, options: dict[str, object],
                                                              metric: str) -> None:
    expected = sample_scores(metric, [REPLY], [REFERENCE])[0]
    assert 0 < expected < 1 and metric_name(task, options) == metric
    at = score_reply(task, REPLY, REFERENCE, options={**options, "pass_at": expected})
    above = score_reply(task, REPLY, REFERENCE, options={**options, "pass_at": min(1.0, expected + 1e-9)})
    assert (at.score, at.correct, at.unparsed) == (expected, True, False)
    assert (above.score, above.correct) == (expected, False)
    assert REGISTRY[task].aggregate == "mean"


def test_chinese_is_scored_by_character_under_tokenize_zh() -> None:
    options = {"pass_at": 0.5, "tokenize": "zh"}
    scored = score_reply("rouge", "北京是中国的首都。", "中国的首都是北京。", options=options)
    assert scored.score == sample_scores("rougeL", ["北京是中国的首都。"], ["中国的首都是北京。"], tokenize="zh")[0] > 0.5
    assert score_reply("rouge", "北京是中国的首都。", "中国的首都是北京。", options={"pass_at": 0.5}).score == 0.0


def test_an_empty_reply_scores_zero_and_is_not_unparsed() -> None:
    scored = score_reply("bleu", "", REFERENCE, options={"pass_at": 0.1})
    assert (scored.score, scored.correct, scored.unparsed) == (0.0, False, False)


@pytest.mark.parametrize(("task", "options", "line"), [
    ("rouge", {}, "scoring.pass_at: task rouge needs the score from which a sample passes, e.g. pass_at: 0.4"),
    ("bleu", {"pass_at": 30}, "scoring.pass_at: expected a number from 0 to 1, got 30"),
    ("chrf", {"pass_at": True}, "scoring.pass_at: expected a number from 0 to 1, got True"),
    ("rouge", {"pass_at": 0.3, "rouge": "rougeLsum"}, "scoring.rouge: expected one of rouge1, rouge2, rougeL, got 'rougeLsum'"),
    ("bleu", {"pass_at": 0.3, "tokenize": "ja"}, "scoring.tokenize: expected one of default, zh, got 'ja'"),
    ("rouge", {"pass_at": 0.3, "use_stemmer": "yes"}, "scoring.use_stemmer: expected true or false, got 'yes'"),
    ("chrf", {"pass_at": 0.3, "tokenize": "zh"}, "scoring.tokenize: does not apply to task chrf (only to rouge, bleu)"),
    ("bleu", {"pass_at": 0.3, "rouge": "rouge1"}, "scoring.rouge: does not apply to task bleu (only to rouge)"),
])
def test_bad_options_are_one_line_naming_the_key(task: str, options: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_options(task, options)
    assert str(info.value) == line


ROWS = [
    {"id": "vote", "text": "Summarise: the committee met and postponed the vote.", "summary": REFERENCE},
    {"id": "cat", "text": "Summarise: a cat, a mat.", "summary": "A cat was sitting on the mat."},
    {"id": "none", "text": "Summarise: the treaty.", "summary": "The treaty was signed in 1648 in Westphalia."},
]
REPLIES = {"Summarise: the committee met and postponed the vote.": REPLY,
           "Summarise: a cat, a mat.": "The cat sat on the mat.", "Summarise: the treaty.": "I don't know."}


def write_summaries(pytester: pytest.Pytester, task: str = "rouge", extra: str = "") -> None:
    pytester.path.joinpath("news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pytester.makefile(".llmeval.yaml", news=f"task: {task}\ndata: {{format: jsonl, path: news.jsonl, "
                                            "fields: {target: summary}}\nprompt: '{text}'\n"
                                            f"scoring: {{pass_at: 0.3}}\n{extra}")
    models = {"models": {"scripted": {"backend": "pytest_llmeval.testing:ScriptedBackend",
                                      "options": {"replies": REPLIES}}}}
    pytester.makefile(".yaml", llm_models=json.dumps(models))


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_rouge_suite_end_to_end(pytester: pytest.Pytester, xdist: list[str]) -> None:
    write_summaries(pytester)
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider", *xdist)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert sample_outcomes(result) == {"passed": 2, "missed": 1}
    samples = {s["id"]: s for s in read_samples(pytester.path / "out")}
    expected = sample_scores("rougeL", [REPLIES[r["text"]] for r in ROWS], [r["summary"] for r in ROWS])
    assert [samples[r["id"]]["correct"] for r in ROWS] == [e >= 0.3 for e in expected] == [True, True, False]
    assert {s["metric"] for s in samples.values()} == {"rougeL"}
    subject = read_results(pytester.path / "out")["subjects"][0]
    assert (subject["metric"], subject["statistic"], subject["correct"]) == ("rougeL", "mean", 2)
    assert subject["score"] == pytest.approx(sum(expected) / 3) and [samples[r["id"]]["score"] for r in ROWS] == expected


def _corpus_expected() -> tuple[float, str]:
    from pytest_llmeval.scoring.text_metrics import corpus_score

    ordered = sorted(ROWS, key=lambda r: r["id"])
    value = corpus_score("bleu", [REPLIES[r["text"]] for r in ordered], [r["summary"] for r in ordered])
    return value.value, value.signature


@pytest.mark.parametrize("xdist", XDIST_MODES[::2])
def test_corpus_bleu_and_its_signature_beside_the_mean(pytester: pytest.Pytester, xdist: list[str]) -> None:
    write_summaries(pytester, task="bleu")
    result = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=out", "-p", "no:cacheprovider", *xdist)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    document = read_results(pytester.path / "out")
    value, signature = _corpus_expected()
    assert signature == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    [row] = document["corpus"]
    assert (row["metric"], row["n"], row["signature"]) == ("bleu", 3, signature)
    assert row["corpus"] == pytest.approx(value) and row["sentence_signature"].startswith("nrefs:1|case:mixed|eff:yes")
    mean = sum(sample_scores("bleu", [REPLIES[r["text"]] for r in ROWS], [r["summary"] for r in ROWS])) / 3
    assert document["subjects"][0]["score"] == pytest.approx(mean) != pytest.approx(value)
    result.stdout.fnmatch_lines([f"*corpus bleu scripted news/news: {value:.4f} over 3 samples ({signature})*"])


def test_shards_merge_to_the_same_means_and_corpus_bleu(pytester: pytest.Pytester) -> None:
    import subprocess
    import sys

    write_summaries(pytester, task="bleu")
    whole = pytester.runpytest("--llm-model=scripted", "--llm-report-dir=whole", "-p", "no:cacheprovider")
    assert whole.ret == pytest.ExitCode.OK
    for shard in ("1/2", "2/2"):
        pytester.runpytest("--llm-model=scripted", f"--llm-shard={shard}", f"--llm-report-dir=s{shard[0]}",
                           "-p", "no:cacheprovider")
    merged = subprocess.run([sys.executable, "-m", "pytest_llmeval", "merge", "s1", "s2", "--out", "merged"],
                            cwd=pytester.path, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    one, two = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    assert one["corpus"] == two["corpus"] and len(one["corpus"]) == 1
    assert [(s["score"], s["ci_low"], s["ci_high"]) for s in one["subjects"]] == \
        [(s["score"], s["ci_low"], s["ci_high"]) for s in two["subjects"]]
