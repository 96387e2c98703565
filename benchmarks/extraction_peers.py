"""Issue 13: our answer reader against OpenCompass's and lm-evaluation-harness's, on the same replies.

Every reader gets the 480 labelled replies of tests/data/extraction_corpus.jsonl (the bundled
SmolLM2 answering MMLU, CMMLU and C-Eval questions in five prompt styles) and is held to the
three figures of issue 13: the share of letter-labelled replies read as their letter, the share
read as a different letter, and the share of NONE/AMBIGUOUS replies read as no letter.

The peers are reimplemented here from their published source, their regular expressions kept as
published (they are the specification being compared), the code around them our own:

- OpenCompass (github.com/open-compass/opencompass, Apache-2.0),
  ``opencompass/utils/text_postprocessors.py`` at commit 014fb10564d971f6020bbf35e39e1049a69352e7:
  ``first_option_postprocess(text, options="ABCD")`` (its MMLU, CMMLU and C-Eval ``gen`` configs
  use it: the first of ~40 patterns that matches, in list order, then the first option letter in
  the match) and ``first_capital_postprocess`` (the first upper-case character of the reply).
- lm-evaluation-harness (github.com/EleutherAI/lm-evaluation-harness, MIT), the released 0.4.13
  (``pip download lm-eval==0.4.13``), ``lm_eval/tasks/mmlu/generative/_default_template_yaml``:
  the ``get_response`` filter (the first line, stripped) scored by ``exact_match`` with
  ``ignore_case`` and ``ignore_punctuation`` against the letter; and the same file on the main
  branch at commit 36512eb78ecfa4bf1305babef311d1e4cfeb0b4f, which adds a letter regex. Its
  ``flan_cot_zeroshot`` MMLU variant: ``strict-match`` ("answer is ..." lookbehinds) and
  ``flexible-extract`` (``multi_choice_regex``: the last "(X)", else an option's text, else ": X").
  lm-eval has no generative CMMLU or C-Eval task (both are log-likelihood only there), so its
  MMLU filters are what a user adapts; they are applied to the Chinese replies as they are.

A peer's reading counts as a letter only when it comes out as one of A-D (after lm-eval's own
case and punctuation folding); anything else is no letter. The last table is each reader's CPU
time to read the whole corpus (best of ``--repeat`` rounds), as a ratio to OpenCompass's reader
in the same process.

    python benchmarks/extraction_peers.py            # the Markdown tables for benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import re
import string
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_llmeval.scoring import read_choice  # noqa: E402
from tests.reply_corpus import LETTERS, Tally, load_corpus, tally  # noqa: E402

Reader = Callable[[dict[str, Any]], "str | None"]

# OpenCompass first_option_postprocess: the published patterns, in their order ({o} = the options).
_OPENCOMPASS = [
    r"答案是?\s?([{o}])", r"答案是?\s?：([{o}])", r"答案是?\s?:([{o}])", r"答案应该?是\s?([{o}])",
    r"答案应该?选\s?([{o}])", r"答案为\s?([{o}])", r"答案选\s?([{o}])", r"选择?\s?([{o}])",
    r"只有选?项?\s?([{o}])\s?是?对", r"只有选?项?\s?([{o}])\s?是?错", r"只有选?项?\s?([{o}])\s?不?正确",
    r"只有选?项?\s?([{o}])\s?错误", r"说法不?对选?项?的?是\s?([{o}])", r"说法不?正确选?项?的?是\s?([{o}])",
    r"说法错误选?项?的?是\s?([{o}])", r"([{o}])\s?是正确的", r"([{o}])\s?是正确答案", r"选项\s?([{o}])\s?正确",
    r"所以答\s?([{o}])", r"1.\s?([{o}])[.。$]?$", r"所以\s?([{o}][.。$]?$)", r"所有\s?([{o}][.。$]?$)",
    r"[\s，：:,]([{o}])[。，,\.]?$", r"[\s，,：:][故即]([{o}])[。\.]?$", r"[\s，,：:]因此([{o}])[。\.]?$",
    r"[是为。]\s?([{o}])[。\.]?$", r"因此\s?([{o}])[。\.]?$", r"显然\s?([{o}])[。\.]?$", r"答案是\s?(\S+)(?:。|$)",
    r"答案应该是\s?(\S+)(?:。|$)", r"答案为\s?(\S+)(?:。|$)", r"[Tt]he answer is ([{o}])",
    r"[Tt]he answer is option ([{o}])", r"[Tt]he correct answer is ([{o}])",
    r"[Tt]he correct answer is option ([{o}])", r"[Tt]he answer to the question is ([{o}])", r"^选项\s?([{o}])",
    r"^([{o}])\s?选?项", r"(\s|^)[{o}][\s。，,：:\.$]", r"(\s|^)[{o}](\s|$)", r"1.\s?(.*?)$",
    # the "cushion" patterns, on by default
    r"([{o}]):", r"[{o}]",
]


def opencompass_first_option(text: str, options: str = LETTERS) -> str | None:
    """The first pattern that matches anywhere in the reply; the first option letter in its match."""
    for pattern in _OPENCOMPASS:
        match = re.search(pattern.format(o=options), text)
        if match:
            return next((letter for letter in options if letter in match.group(0)), None)
    return None


def opencompass_first_capital(text: str) -> str | None:
    return next((ch for ch in text if ch.isupper()), None)


def _exact_match_letter(response: str) -> str | None:
    """lm-eval's exact_match with ignore_case and ignore_punctuation (ASCII punctuation removed,
    lower-cased): the letter the response equals, if any."""
    folded = response.lower().translate(str.maketrans("", "", string.punctuation))
    return folded.upper() if len(folded) == 1 and folded.upper() in LETTERS else None


def _get_response(text: str) -> str:
    """The get_response filter: the first line, whitespace stripped."""
    first = re.findall(r"^(.*?)(?=\n|$)", text)
    return re.findall(r"^(.*?)\s*$", first[0].strip())[0] if first else ""


def lm_eval_mmlu_generative(text: str) -> str | None:
    """lm-eval 0.4.13 mmlu_generative: the first line must be the letter (case and punctuation aside)."""
    return _exact_match_letter(_get_response(text))


_MAIN_LETTER = re.compile(r"(?i)(?:^\W*|answer\s*(?:is)?\s*[:\-]?\s*|option\s*[:\-]?\s*)\(?([A-D])\)?\W*$")


def lm_eval_mmlu_generative_main(text: str) -> str | None:
    """The same task on lm-eval's main branch: then a letter alone, or after "answer (is)" or "option"."""
    found = _MAIN_LETTER.findall(_get_response(text))
    return _exact_match_letter(found[0]) if found else None


_STRICT = re.compile(r"((?<=The answer is )(.*)(?=.)|(?<=answer is )(.*)(?=.)|(?<=The answer: )(.*)(?=.)"
                     r"|(?<=The final answer: )(.*)(?=.))")


def lm_eval_flan_cot_strict(text: str) -> str | None:
    """mmlu_flan_cot_zeroshot "strict-match": the first text after "The answer is" (its last
    character dropped), which must then equal "(X)" case and punctuation aside."""
    found = _STRICT.findall(text)
    if not found:
        return None
    groups = [g for g in found[0] if g]
    return _exact_match_letter(groups[0].strip()) if groups else None


_PUNCTUATION = {i: None for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}


def lm_eval_flan_cot_flexible(text: str, choices: Sequence[str]) -> str | None:
    """mmlu_flan_cot_zeroshot "flexible-extract" (multi_choice_regex, group_select -1: the last
    match at each step): the last "(X)"; else the last option text found (case and every Unicode
    punctuation folded, longest option first); else the last ": X"."""
    found = re.findall(r"(\([A-Z]\))", text)
    if found:
        return _exact_match_letter(found[-1])
    texts = {c.strip().lower().translate(_PUNCTUATION): letter for c, letter in zip(choices, LETTERS)}
    alternation = "|".join(re.escape(t) for t in sorted(texts, key=len, reverse=True) if t)
    quoted = re.findall(alternation, text.lower().translate(_PUNCTUATION)) if alternation else []
    if quoted:
        return texts.get(quoted[-1].strip())
    colon = re.findall(rf":[\s]*({'|'.join(LETTERS[: len(choices)])})", text)
    return colon[-1] if colon else None


READERS: dict[str, Reader] = {
    "pytest-llmeval (this issue)": lambda r: read_choice(r["reply"], LETTERS, r["options"]).letter,
    "OpenCompass first_option_postprocess": lambda r: opencompass_first_option(r["reply"]),
    "OpenCompass first_capital_postprocess": lambda r: opencompass_first_capital(r["reply"]),
    "lm-eval 0.4.13 mmlu_generative": lambda r: lm_eval_mmlu_generative(r["reply"]),
    "lm-eval main mmlu_generative": lambda r: lm_eval_mmlu_generative_main(r["reply"]),
    "lm-eval mmlu_flan_cot strict-match": lambda r: lm_eval_flan_cot_strict(r["reply"]),
    "lm-eval mmlu_flan_cot flexible-extract": lambda r: lm_eval_flan_cot_flexible(r["reply"], r["options"]),
}


def _cells(counts: Tally) -> str:
    return (f"{counts.right}/{counts.lettered} = **{counts.right_share:.1%}** | "
            f"{counts.other_letter} = **{counts.other_letter_share:.1%}** | "
            f"{counts.unparsed}/{counts.unanswered} = **{counts.unparsed_share:.1%}**")


def _cpu_seconds(rows: list[dict[str, Any]], reader: Reader, repeat: int) -> float:
    """The best of ``repeat`` rounds of reading every row, in CPU seconds of this process."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for row in rows:
            reader(row)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds per reader (the best counts)")
    args = parser.parse_args()
    rows = load_corpus()
    splits: dict[str, Callable[[dict[str, Any]], bool]] = {
        "all 480": lambda r: True, "held out (120)": lambda r: r["heldout"], "rules written on (360)": lambda r: not r["heldout"],
        "English (240)": lambda r: r["language"] == "en", "Chinese (240)": lambda r: r["language"] == "zh",
    }
    for title, keep in splits.items():
        chosen = [r for r in rows if keep(r)]
        print(f"\n**{title}**\n")
        print("| reader | letter-labelled read as their letter (≥ 97%) | read as a different letter (≤ 0.5%) "
              "| NONE/AMBIGUOUS read as no letter (≥ 90%) |")
        print("|---|---|---|---|")
        for name, reader in READERS.items():
            print(f"| {name} | {_cells(tally(chosen, reader))} |")
    seconds = {name: _cpu_seconds(rows, reader, args.repeat) for name, reader in READERS.items()}
    peer = seconds["OpenCompass first_option_postprocess"]
    print(f"\n**CPU time to read the {len(rows)} replies** (best of {args.repeat})\n")
    print("| reader | ms per reply | / OpenCompass first_option_postprocess |\n|---|---|---|")
    for name, spent in seconds.items():
        print(f"| {name} | {1000 * spent / len(rows):.3f} | {spent / peer:.2f} |")


if __name__ == "__main__":
    main()
