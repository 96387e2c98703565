"""Issue 13: generate the corpus of real small-model replies that answer extraction is held to.

Every reply comes from the bundled SmolLM2-135M-Instruct GGUF, asked exactly as a suite would ask
it through the plugin's ``llamacpp`` backend: each style below is a real suite (``SuiteConfig``),
planned by the plugin (``build_plan``: loaders, few-shot examples, gold answers), each request
built by the plugin (``sample_request``: the chat messages of ``PromptSpec``, the suite's
``generation`` block) and answered by ``LlamaCppBackend.generate`` (the GGUF's chat template
through ``create_chat_completion``, temperature 0, greedy).

Questions are real rows of ../shared/data: MMLU test (English), CMMLU test and C-Eval val
(Chinese). Each row of the corpus is a distinct question, drawn with a fixed seed and spread over
the subjects; questions whose prompt would not leave room for the reply in the 2,048-token
context are skipped. Cells: 2 languages x 5 prompt styles x ``max_tokens`` 16 and 256, ``--per-cell``
rows each (default 24; Chinese cells half CMMLU, half C-Eval).

The corpus (tests/data/extraction_corpus.jsonl) keeps per row only what reading and checking the
reply needs: the question, its options and gold letter, the reply, and the labels a person
wrote after reading it (``label``, ``note``, ``reread``; see tests/data/README.md). Re-running the
script keeps the labels of every row whose reply comes out unchanged and clears them where the
reply changed (another llama.cpp build, another CPU), listing those rows: they must be read
again. Rows are written as they are generated, so an interrupted run resumes where it stopped.

    python benchmarks/extraction_corpus.py                       # about 30-40 min on 2 shared cores
    python benchmarks/extraction_corpus.py --per-cell 2 --out /tmp/corpus.jsonl   # a quick look

Needs ``pip install -e '.[llamacpp]'`` and the shared data (``$LLMEVAL_SHARED_DATA``, else
``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "extraction_corpus.jsonl"
SEED = 13
HELDOUT_SALT = "issue-13-heldout"
N_CTX = 2048
MAX_TOKENS = (16, 256)

_CHOICES = "{question}\n{choices}"
# The prompt styles, as the suite keys that make them (prompt, system, preamble, few_shot, ...).
STYLES: dict[str, dict[str, dict[str, Any]]] = {
    "en": {
        "letter_only": {"prompt": _CHOICES + "\nReply with only the letter (A, B, C or D) of the correct option."},
        "answer_with_letter": {"system": "Answer the multiple choice question with the letter of the correct option.",
                               "prompt": _CHOICES + "\nAnswer:"},
        "step_by_step": {"prompt": _CHOICES + "\nThink step by step, then finish with \"The answer is X\", "
                                              "where X is the letter of the correct option."},
        "few_shot": {"preamble": "The following are multiple choice questions (with answers) about {subject}.\n\n",
                     "prompt": _CHOICES + "\nAnswer:", "few_shot": {"n": 3, "split": "dev"}},
        "no_instruction": {"prompt": _CHOICES},
    },
    "zh": {
        "letter_only": {"prompt": _CHOICES + "\n只回答正确选项的字母（A、B、C或D），不要解释。"},
        "answer_with_letter": {"prompt": "以下是单项选择题，请直接给出正确答案的选项。\n" + _CHOICES + "\n答案："},
        "step_by_step": {"prompt": _CHOICES + "\n请逐步思考，最后以“答案是X”的形式给出正确选项的字母。"},
        "few_shot": {"preamble": "以下是单项选择题（附答案），请选出其中的正确答案。\n\n",
                     "prompt": _CHOICES + "\n答案：", "target_delimiter": "", "few_shot": {"n": 3, "split": "dev"}},
        "no_instruction": {"prompt": _CHOICES},
    },
}
SOURCES = {"en": [("mmlu", "test")], "zh": [("cmmlu", "test"), ("ceval", "val")]}


def shared_data() -> Path:
    folder = Path(os.environ.get("LLMEVAL_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not folder.is_dir():
        sys.exit(f"shared data not found at {folder}; set LLMEVAL_SHARED_DATA")
    return folder


def heldout_ids(ids: list[str]) -> set[str]:
    """The seeded quarter of the corpus kept out of sight while the rules were written: the rows
    with the smallest CRC-32 of ``HELDOUT_SALT/id`` (stable across processes, unlike ``hash``)."""
    ranked = sorted(ids, key=lambda i: zlib.crc32(f"{HELDOUT_SALT}/{i}".encode()))
    return set(ranked[: len(ids) // 4])


def _plan(language: str, style: str, fmt: str, split: str, max_tokens: int) -> Any:
    from pytest_llmeval.suites.plan import build_plan
    from pytest_llmeval.suites.schema import SuiteConfig

    keys = STYLES[language][style]
    config = SuiteConfig.model_validate({
        "name": f"{language}-{style}", "task": "multiple_choice",
        "data": {"format": fmt, "path": str(shared_data() / fmt), "split": split},
        "generation": {"max_tokens": max_tokens}, **keys,
    })
    return build_plan(config, REPO / "corpus.llmeval.yaml", "corpus.llmeval.yaml", None)


def _pool(fmt: str, split: str, seed: int) -> list[tuple[str, str]]:
    """(subject, sample id) of every row, shuffled with ``seed`` and then interleaved by subject,
    so that consecutive draws come from different subjects."""
    from pytest_llmeval.data import DataSpec, load

    loaded = load(DataSpec(format=fmt, path=shared_data() / fmt, split=split))
    rng = random.Random(f"{seed}/{fmt}")
    per_subject = {subject: rng.sample([s.id for s in samples], len(samples)) for subject, samples in sorted(loaded.items())}
    order = rng.sample(sorted(per_subject), len(per_subject))
    pool = []
    for depth in range(max(len(v) for v in per_subject.values())):
        pool += [(subject, per_subject[subject][depth]) for subject in order if depth < len(per_subject[subject])]
    return pool


def _cells(per_cell: int) -> Iterator[tuple[str, str, int, str, str, int]]:
    """(language, style, max_tokens, format, split, rows) for every cell, sources split evenly."""
    for language, styles in STYLES.items():
        for style in styles:
            for max_tokens in MAX_TOKENS:
                sources = SOURCES[language]
                for i, (fmt, split) in enumerate(sources):
                    yield language, style, max_tokens, fmt, split, per_cell // len(sources) + (i < per_cell % len(sources))


def _read(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if row}


def _prompt_tokens(llm: Any, request: Any) -> int:
    """The messages' tokens plus a margin for the chat template's own."""
    text = "".join(m["content"] for m in request.messages)
    return len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)) + 16


def _answer(backend: Any, request: Any, row_id: str, language: str, style: str, fmt: str, split: str,
            subject: str, sample: Any) -> dict[str, Any]:
    """One corpus row: the question as the data has it and the model's reply to the request."""
    reply = backend.generate(request)
    return {
        "id": row_id, "language": language, "style": style, "max_tokens": request.max_tokens,
        "source": f"{fmt}/{split}", "subject": subject, "question_id": sample.id,
        "question": str(sample.fields.get("question", "")), "options": list(sample.choices),
        "target": sample.target, "reply": reply.text,
        "finish_reason": (reply.extra or {}).get("finish_reason"),
        "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
        "label": None, "note": None, "reread": None,
    }


def generate(per_cell: int, out: Path) -> None:
    from pytest_llmeval.backends.base import BackendSettings
    from pytest_llmeval.backends.bundled import BUNDLED_MODEL_NAME, bundled_model_path
    from pytest_llmeval.backends.llamacpp import LlamaCppBackend, load_model
    from pytest_llmeval.evaluate import sample_request
    from pytest_llmeval.profiles import ModelSpec

    previous = _read(out)
    settings = BackendSettings(backend="llamacpp", model=BUNDLED_MODEL_NAME, temperature=0.0, extra={"n_ctx": N_CTX})
    model = ModelSpec(name=BUNDLED_MODEL_NAME, settings=settings, generation_fixed=frozenset())
    backend = LlamaCppBackend(settings)
    llm = load_model(bundled_model_path(), N_CTX).llm  # the backend's own instance, to count tokens
    pools = {fmt: _pool(fmt, split, SEED) for fmts in SOURCES.values() for fmt, split in fmts}
    used: dict[str, int] = dict.fromkeys(pools, 0)
    rows: list[dict[str, Any]] = []
    changed: list[str] = []
    tmp = out.with_suffix(".partial")
    done = _read(tmp)  # replies of an interrupted run, reused where the question is the same
    started = time.perf_counter()
    with tmp.open("w", encoding="utf-8") as sink:
        for language, style, max_tokens, fmt, split, count in _cells(per_cell):
            plan = _plan(language, style, fmt, split, max_tokens)
            subjects = {s.subject: s for s in plan.subjects}
            made = 0
            while made < count:
                subject_name, sample_id = pools[fmt][used[fmt]]
                used[fmt] += 1
                subject = subjects[subject_name]
                sample = next(s for s in subject.samples if s.id == sample_id)
                prompt, request = sample_request(model, plan, subject, sample)
                if _prompt_tokens(llm, request) + max_tokens > N_CTX:
                    continue
                number = sum(1 for r in rows if (r["language"], r["style"], r["max_tokens"]) == (language, style, max_tokens))
                row_id = f"{language}-{style}-{max_tokens}-{number:02d}"
                row = done.get(row_id)
                if row is None or row.get("question_id") != sample_id or row.get("source") != f"{fmt}/{split}":
                    row = _answer(backend, request, row_id, language, style, fmt, split, subject_name, sample)
                old = previous.get(row_id)
                if old is not None and old.get("reply") == row["reply"] and old.get("question_id") == sample_id:
                    row |= {key: old.get(key) for key in ("label", "note", "reread")}
                elif old is not None and old.get("label") is not None:
                    changed.append(row_id)
                rows.append(row)
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
                made += 1
                print(f"{len(rows):4d} {row_id:32s} {row['completion_tokens'] or 0:4d} tokens "
                      f"{time.perf_counter() - started:7.1f} s  {row['reply'][:60]!r}", flush=True)
    heldout = heldout_ids([r["id"] for r in rows])
    with out.open("w", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps({**row, "heldout": row["id"] in heldout}, ensure_ascii=False) + "\n")
    tmp.unlink()
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s -> {out}")
    if changed:
        print(f"{len(changed)} labelled replies changed and lost their label: {', '.join(changed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-cell", type=int, default=24, help="rows per (language, style, max_tokens) cell")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generate(args.per_cell, args.out)


if __name__ == "__main__":
    main()
