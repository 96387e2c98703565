"""Text metrics against the libraries' own command lines, run on small files this test writes:
``python -m sacrebleu`` (``--sentence-level`` per sample, ``--format json`` per corpus) and
``python -m rouge_score.rouge`` (``--aggregate=false`` per sample)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmeval.errors import ConfigError
from pytest_llmeval.scoring.text_metrics import (
    METRICS, ChineseRougeTokenizer, corpus_score, sample_scores, signature,
)

# Short summaries and answers of the kind the metrics score: paraphrase, reordering, numbers,
# punctuation, case, a verbatim copy, a reply with no overlap, and an empty reply.
ENGLISH = [
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("Revenue rose 12% to $4.5 billion in 2023, beating forecasts.",
     "In 2023 revenue grew by 12 percent to 4.5 billion dollars, above analysts' forecasts."),
    ("The committee postponed the vote until next week.", "The committee postponed the vote until next week."),
    ("Water boils at 100 degrees Celsius at sea level.", "At sea level, water boils at 100 °C."),
    ("I don't know.", "The treaty was signed in 1648 in Westphalia."),
    ("", "Photosynthesis turns light into chemical energy."),
    ("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG", "The quick brown fox jumped over the lazy dogs"),
    ("Researchers found that regular exercise improves sleep quality in older adults, the study says.",
     "Regular exercise improved the sleep quality of older adults, researchers found."),
]
CHINESE = [
    ("北京是中国的首都。", "中国的首都是北京。"),
    ("长江是中国最长的河流，全长约6300公里。", "中国最长的河流是长江，长约6300千米。"),
    ("我不知道。", "水在标准大气压下100摄氏度沸腾。"),
    ("会议决定下周再投票。", "委员会把投票推迟到了下周。"),
    ("Windows 10 将于明年停止支持。", "微软明年停止对Windows 10的支持。"),
    ("今天天气很好，我们去公园散步吧！", "今天天气很好，我们去公园散步吧！"),
]


def run_cli(module: str, *args: str) -> str:
    """``python -m module args`` (or ``python -c ...`` with an empty module), its stdout."""
    command = [sys.executable, "-m", module, *args] if module else [sys.executable, *args]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_lines(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("metrics")
    return {lang: (write_lines(folder, f"{lang}.hyp", [h for h, _ in pairs]),
                   write_lines(folder, f"{lang}.ref", [r for _, r in pairs]))
            for lang, pairs in (("en", ENGLISH), ("zh", CHINESE))}


def sacrebleu_cli(hyp: Path, ref: Path, metric: str, *extra: str) -> tuple[list[float], dict[str, str]]:
    """Per-sample scores (``--sentence-level``) and the corpus JSON record, 0-100 as printed."""
    lines = run_cli("sacrebleu", str(ref), "-i", str(hyp), "-m", metric, "-sl", "-w", "10", "-b", *extra)
    corpus = json.loads(run_cli("sacrebleu", str(ref), "-i", str(hyp), "-m", metric, "-w", "10", "--format", "json", *extra))
    return [float(line) for line in lines.split()], corpus


@pytest.mark.parametrize(("lang", "metric", "tokenize", "extra"), [
    ("en", "bleu", "default", ()),
    ("en", "chrf", "default", ()),
    ("zh", "bleu", "zh", ("--tokenize", "zh")),
    ("zh", "chrf", "zh", ()),
])
def test_sacrebleu_scores_match_its_command_line(files: dict[str, tuple[Path, Path]], lang: str, metric: str,
                                                 tokenize: str, extra: tuple[str, ...]) -> None:
    pairs = ENGLISH if lang == "en" else CHINESE
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    cli_samples, cli_corpus = sacrebleu_cli(*files[lang], metric, *extra)
    ours = sample_scores(metric, hyps, refs, tokenize=tokenize)
    assert [100 * s for s in ours] == pytest.approx(cli_samples, abs=1e-9)  # the CLI prints 10 decimals
    corpus = corpus_score(metric, hyps, refs, tokenize=tokenize)
    assert 100 * corpus.value == pytest.approx(float(cli_corpus["score"]), abs=1e-9)
    assert corpus.signature == cli_corpus["signature"]
    assert corpus.value != pytest.approx(sum(ours) / len(ours), abs=1e-3)  # pooled, not a mean
    assert 0 < min(ours[:2]) and max(ours) == 1.0  # a verbatim copy scores 1, clamped from 100.00000000000004


def test_sentence_signature_is_the_command_lines(files: dict[str, tuple[Path, Path]]) -> None:
    hyp, ref = files["zh"]
    line = run_cli("sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu", "-sl", "--tokenize", "zh").splitlines()[0]
    assert line.startswith(f"BLEU|{signature('bleu', tokenize='zh')} = ")
    assert signature("bleu", tokenize="zh") == "nrefs:1|case:mixed|eff:yes|tok:zh|smooth:exp|version:" + line.split("version:")[1].split()[0]


def rouge_cli(folder: Path, hyps: list[str], refs: list[str], *flags: str) -> list[dict[str, float]]:
    """rouge-score's command line per sample; records separated by a delimiter that is not a
    newline, so replies keep theirs."""
    delimiter = "<|record|>"
    (folder / "t.targets").write_text("".join(r + delimiter for r in refs), encoding="utf-8")
    (folder / "p.decodes").write_text("".join(h + delimiter for h in hyps), encoding="utf-8")
    out = folder / "scores.csv"
    run_cli("rouge_score.rouge", f"--target_filepattern={folder / 't.targets'}",
            f"--prediction_filepattern={folder / 'p.decodes'}", f"--output_filename={out}",
            "--rouge_types=rouge1,rouge2,rougeL", "--aggregate=false", f"--delimiter={delimiter}", *flags)
    with out.open(encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.mark.parametrize("stem", [False, True])
def test_rouge_matches_its_command_line(tmp_path: Path, stem: bool) -> None:
    hyps = [h for h, _ in ENGLISH] + ["The vote was postponed.\nThe committee will meet next week."]
    refs = [r for _, r in ENGLISH] + ["The committee postponed the vote until next week."]
    rows = rouge_cli(tmp_path, hyps, refs, f"--use_stemmer={str(stem).lower()}")
    assert len(rows) == len(hyps)
    for metric in ("rouge1", "rouge2", "rougeL"):
        ours = sample_scores(metric, hyps, refs, use_stemmer=stem)
        assert ours == pytest.approx([row[f"{metric}-F"] for row in rows], abs=5e-7)  # the CSV has 6 decimals
        corpus = corpus_score(metric, hyps, refs, use_stemmer=stem)
        assert corpus.value == pytest.approx(sum(ours) / len(ours))
        assert corpus.signature == f"{metric}|f|tok:default|stem:{'yes' if stem else 'no'}|rouge-score:0.1.2"


def test_rouge_corpus_value_is_the_command_lines_aggregate(tmp_path: Path) -> None:
    """The command line's aggregate (``--aggregate=true``) is the median of 1,000 bootstrap means
    (numpy's global generator, seeded here so the test is repeatable), with a 95% interval: our
    corpus value, the mean, lies within 0.01 of that median and inside the interval."""
    hyps, refs = [h for h, _ in ENGLISH], [r for _, r in ENGLISH]
    (tmp_path / "t.targets").write_text("".join(r + "\n" for r in refs), encoding="utf-8")
    (tmp_path / "p.decodes").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    out = tmp_path / "aggregate.csv"
    seeded_cli = ("import sys, numpy; numpy.random.seed(19); from absl import app; from rouge_score import rouge; "
                  "app.run(rouge.main)")
    run_cli("", "-c", seeded_cli, f"--target_filepattern={tmp_path / 't.targets'}",
            f"--prediction_filepattern={tmp_path / 'p.decodes'}", f"--output_filename={out}",
            "--rouge_types=rouge1,rouge2,rougeL", "--aggregate=true")
    with out.open(encoding="utf-8") as handle:
        rows = {row["score_type"]: row for row in csv.DictReader(handle)}
    for metric in ("rouge1", "rouge2", "rougeL"):
        low, mid, high = (float(rows[f"{metric}-F"][k]) for k in ("low", "mid", "high"))
        value = corpus_score(metric, hyps, refs).value
        assert value == pytest.approx(mid, abs=0.01) and low <= value <= high


def test_chinese_rouge_matches_the_command_line_on_characters_mapped_to_words(tmp_path: Path) -> None:
    """The command line has no tokeniser option, and its tokeniser keeps only [a-z0-9]. Writing
    each Chinese character as an ASCII word (``u5317`` for 北), the way multilingual ROUGE scripts
    feed Chinese to ROUGE-1.5.5, makes it score the characters: the same tokens ours reads."""
    def mapped(text: str) -> str:
        return "".join(f" u{ord(c):x} " if "\u4e00" <= c <= "\u9fff" else c for c in text)

    hyps, refs = [h for h, _ in CHINESE], [r for _, r in CHINESE]
    rows = rouge_cli(tmp_path, [mapped(h) for h in hyps], [mapped(r) for r in refs])
    for metric in ("rouge1", "rouge2", "rougeL"):
        ours = sample_scores(metric, hyps, refs, tokenize="zh")
        assert ours == pytest.approx([row[f"{metric}-F"] for row in rows], abs=5e-7)
    # Why zh is needed: the default tokeniser sees only "6300" and "windows 10", so two replies
    # score 1 for a shared number or name, and the verbatim copy (the last) scores 0.
    assert sample_scores("rouge1", hyps, refs) == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]


def test_chinese_tokens_are_sacrebleus_characters_without_punctuation() -> None:
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    text = "长江是中国最长的河流，全长约6300公里。"
    sacre = TokenizerZh()(text).split()
    assert ChineseRougeTokenizer().tokenize(text) == [t for t in sacre if t.isalnum()]
    assert ChineseRougeTokenizer().tokenize("用Ｐｙｔｈｏｎ写的Tests很好") == ["用", "python", "写", "的", "tests", "很", "好"]
    assert ChineseRougeTokenizer(use_stemmer=True).tokenize("运行running测试") == ["运", "行", "run", "测", "试"]


def test_newlines_in_a_reply_score_as_spaces_for_bleu(files: dict[str, tuple[Path, Path]]) -> None:
    """sacreBLEU's command line reads one sample a line; a reply's own newlines are whitespace."""
    reply = "The vote was postponed.\nThe committee meets\nnext week."
    ref = "The committee postponed the vote until next week."
    for metric in ("bleu", "chrf"):
        assert sample_scores(metric, [reply], [ref]) == sample_scores(metric, [reply.replace("\n", " ")], [ref])


def test_every_metric_scores_from_zero_to_one() -> None:
    hyps, refs = [h for h, _ in ENGLISH], [r for _, r in ENGLISH]
    for metric in METRICS:
        scores = sample_scores(metric, hyps, refs)
        assert len(scores) == len(hyps) and all(0.0 <= s <= 1.0 for s in scores)
        assert scores[3] == 1.0 and scores[6] == 0.0  # verbatim copy, empty reply
        assert corpus_score(metric, [], []).value == 0.0


def test_same_inputs_same_scores_in_any_order() -> None:
    hyps, refs = [h for h, _ in ENGLISH], [r for _, r in ENGLISH]
    for metric in METRICS:
        forward = sample_scores(metric, hyps, refs)
        assert sample_scores(metric, hyps[::-1], refs[::-1]) == forward[::-1]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sample_scores("meteor", ["a"], ["a"]), "metric: unknown metric 'meteor' (expected one of rouge1, rouge2, rougeL, bleu, chrf)"),
    (lambda: sample_scores("bleu", ["a"], ["a"], tokenize="ja"), "tokenize: unknown tokenizer 'ja' (expected one of default, zh)"),
    (lambda: signature("rougeL", tokenize="intl"), "tokenize: unknown tokenizer 'intl' (expected one of default, zh)"),
])
def test_bad_names_are_one_line(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message


def test_replies_and_references_must_pair() -> None:
    with pytest.raises(ValueError, match="2 replies but 1 references"):
        sample_scores("bleu", ["a", "b"], ["a"])


def test_importing_the_open_ended_modules_loads_no_library() -> None:
    """The libraries load when a metric or an interval is first computed, never on import."""
    code = ("import sys; import pytest_llmeval.scoring.text_metrics, pytest_llmeval.scoring.judge, "
            "pytest_llmeval.results.bootstrap, pytest_llmeval.results.agreement, pytest_llmeval.results.pairwise; "
            "print(sorted(m for m in ('rouge_score', 'nltk', 'sacrebleu', 'numpy', 'absl') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
