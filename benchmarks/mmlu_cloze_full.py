"""Issue 20, item 4: the bundled model on the whole MMLU test split in continuation (cloze) form.

What is run: every MMLU test question (14,042, 57 subjects, ``../shared/data/mmlu``), 0-shot, in
lm-eval's ``mmlu_continuation`` form, the prompt ``cloze_fidelity.py`` checks byte for byte against
lm-eval (``The following are questions (with answers) about <subject>.\\n\\nQuestion:
<question.strip()>\\nAnswer:``, each option scored as `` <text>``), through a project backend's
``loglikelihood_batch`` and ``scoring/cloze.py``: ``acc`` (highest summed log-likelihood) and
``acc_norm`` (divided by the option's length, lm-eval's). The score is the mean over questions
(lm-eval's ``mmlu_continuation`` group figure) and the mean of the 57 subjects' scores.

The model is the bundled SmolLM2-135M-Instruct GGUF (Q4_1), either through ``llamacpp`` (the
GGUF itself) or through ``hf`` (the same Q4_1 weights dequantised to float32, batched torch);
``--backend`` picks, ``--limit 50`` times 50 questions to choose the faster one.

Each question's log-likelihoods and picks are appended to ``--out`` (JSON Lines) as they are
scored, so an interrupted run resumes where it stopped and a run stopped by a deadline
(``--until HH:MM`` UTC) reports the subjects it finished.

    python benchmarks/mmlu_cloze_full.py --backend hf --limit 50 --out /tmp/m50.jsonl
    python benchmarks/mmlu_cloze_full.py --backend hf --out /tmp/mmlu-cloze.jsonl --until 19:55
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cloze_fidelity import MMLU_DESCRIPTION, MMLU_PROMPT  # noqa: E402 - the prompts checked against lm-eval

CHUNK = 32  # questions per backend call (and per resume point)


def main() -> None:
    args = _parser().parse_args()
    shared = Path(args.data or os.environ.get("LLMEVAL_SHARED_DATA") or REPO.parent / "shared" / "data")
    out = Path(args.out)
    items = _items(shared, args.limit)
    done = _done(out)
    todo = [(subject, sample) for subject, sample in items if f"{subject}/{sample.id}" not in done]
    print(f"{len(items)} questions, {len(items) - len(todo)} already scored in {out}", flush=True)
    backend = _backend(args)
    started, deadline = time.perf_counter(), _deadline(args.until)
    spent = 0.0
    with out.open("a", encoding="utf-8") as sink:
        for at in range(0, len(todo), CHUNK):
            if deadline is not None and time.time() >= deadline:
                print(f"stopped at the deadline {args.until} UTC", flush=True)
                break
            chunk = todo[at:at + CHUNK]
            began = time.perf_counter()
            rows = _score(backend, chunk)
            spent += time.perf_counter() - began
            sink.write("".join(json.dumps(r) + "\n" for r in rows))
            sink.flush()
            print(f"{at + len(chunk)}/{len(todo)} questions, {spent:.0f} s model, "
                  f"{spent / (at + len(chunk)):.3f} s/question", flush=True)
    print(json.dumps(summarise(out, items, args, time.perf_counter() - started), indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("hf", "llamacpp"), default="hf")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=16, help="hf batch size (default 16)")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions of the split (default 0: all)")
    parser.add_argument("--out", required=True, help="JSON Lines of scored questions (appended; resumes)")
    parser.add_argument("--until", help="stop starting new chunks at this UTC time, HH:MM")
    parser.add_argument("--data", help="the shared data folder (default: $LLMEVAL_SHARED_DATA or ../shared/data)")
    return parser


def _items(shared: Path, limit: int) -> list[tuple[str, Any]]:
    from pytest_llmeval.data import DataSpec, load

    loaded = load(DataSpec(format="mmlu", path=shared / "mmlu", split="test"))
    items = [(subject, sample) for subject in sorted(loaded) for sample in loaded[subject]]
    return items[:limit or None]


def _done(out: Path) -> set[str]:
    if not out.is_file():
        return set()
    return {json.loads(line)["key"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()}


def _deadline(until: str | None) -> float | None:
    if not until:
        return None
    hour, minute = (int(part) for part in until.split(":"))
    now = datetime.now(timezone.utc)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def _backend(args: argparse.Namespace) -> Any:
    from pytest_llmeval.backends.base import BackendSettings

    if args.backend == "hf":
        from pytest_llmeval.backends.hf import HFBackend

        return HFBackend(BackendSettings(backend="hf", model="SmolLM2-135M-Instruct", extra={
            "dtype": "float32", "device": "cpu", "batch_size": args.batch_size, "n_threads": args.threads}))
    from pytest_llmeval.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(BackendSettings(backend="llamacpp", model="SmolLM2-135M-Instruct",
                                           extra={"n_threads": args.threads}))


def _score(backend: Any, chunk: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    from pytest_llmeval.backends.base import LoglikelihoodRequest
    from pytest_llmeval.scoring.cloze import cloze_continuations, cloze_picks

    requests = [LoglikelihoodRequest(MMLU_DESCRIPTION.format(subject=subject.replace("_", " "))
                                     + MMLU_PROMPT.format(question=sample.fields["question"].strip()),
                                     cloze_continuations(sample.choices)) for subject, sample in chunk]
    replies = backend.loglikelihood_batch(requests)
    rows = []
    for (subject, sample), reply in zip(chunk, replies):
        picks = cloze_picks(reply.logprobs, sample.choices)
        gold = sample.labels.index(sample.target)
        rows.append({"key": f"{subject}/{sample.id}", "subject": subject, "lls": list(reply.logprobs), "gold": gold,
                     "acc": picks.acc == gold, "acc_norm": picks.acc_norm == gold})
    return rows


def summarise(out: Path, items: list[tuple[str, Any]], args: argparse.Namespace, wall_s: float) -> dict[str, Any]:
    """Scores over the questions scored so far: overall, the mean of the finished subjects, and
    which subjects are unfinished."""
    wanted = {f"{subject}/{sample.id}": subject for subject, sample in items}
    rows = [r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines()) if r["key"] in wanted]
    per: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        per.setdefault(row["subject"], []).append(row)
    sizes: dict[str, int] = {}
    for subject in wanted.values():
        sizes[subject] = sizes.get(subject, 0) + 1
    finished = sorted(s for s in sizes if len(per.get(s, [])) == sizes[s])
    summary: dict[str, Any] = {"backend": args.backend, "threads": args.threads, "questions": len(rows),
                               "of": len(wanted), "subjects_finished": len(finished), "of_subjects": len(sizes),
                               "wall_s_this_run": round(wall_s, 1)}
    for metric in ("acc", "acc_norm"):
        summary[metric] = round(sum(r[metric] for r in rows) / max(len(rows), 1), 4)
        subject_means = [sum(r[metric] for r in per[s]) / sizes[s] for s in finished]
        summary[f"{metric}_subject_mean"] = round(sum(subject_means) / max(len(subject_means), 1), 4)
    summary["unfinished"] = sorted(set(sizes) - set(finished))
    return summary


if __name__ == "__main__":
    main()
