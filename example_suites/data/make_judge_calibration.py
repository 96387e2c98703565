"""The replies of ``judge_calibration.jsonl``: the bundled model's answers to the example suites'
questions, generated exactly as the plugin's ``llamacpp`` backend generates (the backend class
itself: ``create_chat_completion``, temperature 0, seed 0, llama.cpp's state reset per request).

Each generating suite's prompt is rendered by the plugin's own plan (system message, few-shot
examples, template), and the Python test's question is asked as ``test_capitals.py`` asks it. The
suites' own ``generation:`` blocks cut replies short (four tokens, stop at a comma) because those
suites score one word; a judge is for whole answers, so every reply here may run to
``MAX_TOKENS`` with no stop strings. ``mode: ll`` suites generate nothing and are left out (their
questions are world-facts' own).

    python example_suites/data/make_judge_calibration.py --out replies.jsonl   # replies, unlabelled
    python example_suites/data/make_judge_calibration.py --check               # the shipped replies still come out

The labels (``label``, ``score``, ``why``) are written by a person who read each reply; this
script never writes them, and ``--check`` compares replies only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest
from pytest_llmeval.backends.llamacpp import LlamaCppBackend
from pytest_llmeval.prompts import render_messages_text
from pytest_llmeval.suites.plan import build_plan
from pytest_llmeval.suites.schema import SuiteConfig
from pytest_llmeval.yamlfile import load_validated

HERE = Path(__file__).resolve().parent
SUITES = HERE.parent
SHIPPED = HERE / "judge_calibration.jsonl"
MAX_TOKENS = 128
# The suites the shipped set was made from and labelled on. Example suites added since (code,
# summaries, the judge smoke test, circular and perturbed variants, cloze) are not in it: their
# replies are graded by tests, metrics or rotations, and were never read and labelled.
LABELLED_SUITES = ("arithmetic", "capitals_regex", "chinese_general", "world_facts_gen", "yes_no_exact")
LABEL_FIELDS = ("label", "score", "why")


def _reference(task: str, target: str, choices: tuple[str, ...], labels: str) -> str:
    """What a judge compares against: a multiple-choice letter with its option's text."""
    if task == "multiple_choice":
        return f"{target}. {choices[labels.index(target)]}"
    return target


def suite_questions() -> Iterator[dict[str, Any]]:
    """The labelled example suites' samples (``LABELLED_SUITES``), in file and row order, with their messages."""
    for path in sorted(SUITES / f"{name}.llmeval.yaml" for name in LABELLED_SUITES):
        config = load_validated(path, SuiteConfig)
        plan = build_plan(config, path, path.name, None)
        for subject in plan.subjects:
            for sample in subject.samples:
                messages = plan.prompt.messages(sample, subject.examples)
                yield {"id": f"{plan.name}/{subject.subject}/{sample.id}", "suite": plan.name,
                       "subject": subject.subject, "messages": messages,
                       "reference": _reference(config.task, sample.target or "", sample.choices, sample.labels)}


def python_test_questions() -> Iterator[dict[str, Any]]:
    """``test_capitals.py``'s question, asked as that test asks it."""
    for line in (HERE / "capitals.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        yield {"id": f"test_capitals/capitals-contains/{row['id']}", "suite": "test_capitals",
               "subject": "capitals-contains",
               "messages": ({"role": "user", "content": f"What is the capital of {row['country']}?"},),
               "reference": row["answer"]}


def generate() -> Iterator[dict[str, Any]]:
    backend = LlamaCppBackend(BackendSettings(backend="llamacpp", model="SmolLM2-135M-Instruct"))
    for question in [*suite_questions(), *python_test_questions()]:
        messages = question.pop("messages")
        reply = backend.generate(GenerateRequest(messages=messages, max_tokens=MAX_TOKENS, temperature=0.0))
        yield {**question, "prompt": render_messages_text(messages), "reply": reply.text,
               "finish_reason": reply.extra.get("finish_reason")}


def check() -> int:
    """0 when generating again gives the shipped replies, else 1 with the ids that differ."""
    shipped = {r["id"]: r for r in map(json.loads, SHIPPED.read_text(encoding="utf-8").splitlines())}
    fresh = {r["id"]: r for r in generate()}
    differ = sorted(i for i in shipped.keys() | fresh.keys()
                    if i not in shipped or i not in fresh or shipped[i]["reply"] != fresh[i]["reply"])
    print(f"{len(fresh)} replies generated, {len(differ)} differ from {SHIPPED.name}" + (f": {differ}" if differ else ""))
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the unlabelled replies here (JSON lines)")
    parser.add_argument("--check", action="store_true", help=f"compare fresh replies with {SHIPPED.name}")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if args.out is None:
        parser.error("give --out FILE or --check")
    with args.out.open("w", encoding="utf-8") as out:
        for record in generate():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
