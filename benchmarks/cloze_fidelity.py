"""Issue 20: cloze multiple choice against lm-evaluation-harness, item by item.

lm-eval's ``hf`` model and the project's ``hf`` backend score the same prompts with the same
weights: the bundled SmolLM2-135M-Instruct GGUF (Q4_1) as the backend converts it once into
``~/.cache/pytest-llmeval/hf/<hash>`` (float32 safetensors and the GGUF's tokenizer, see
``backends/hf_load.py``); lm-eval loads that folder as ``HFLM(pretrained=<folder>)``. Both run
float32 on the CPU.

The tasks are lm-eval's own task files, included by absolute path from the installed lm-eval, with
only the data source replaced (the hub is unreachable): local JSON Lines written to the work
folder from ``../shared/data``, in the hub datasets' shapes.
- MMLU, continuation form, 0-shot: ``mmlu_<subject>_continuation`` for five subjects
  (``SUBJECTS``): ``The following are questions (with answers) about <subject>.\\n\\nQuestion:
  <question.strip()>\\nAnswer:`` and each option as `` <text>``; with ``metric_list`` widened from
  acc/acc_norm to acc, acc_norm, acc_bytes and acc_mutual_info (the last adds lm-eval's
  unconditional requests, ``("", " <text>")``).
- TruthfulQA: ``truthfulqa_mc1`` and ``truthfulqa_mc2`` over ``truthfulqa/data/v1/mc_task.json``
  (817 questions; the hub's ``truthful_qa/multiple_choice`` is that file, each ``*_targets``
  object turned into ``{choices: keys, labels: values}``), prompt: TruthfulQA's six-question QA
  primer, ``\\n\\nQ: <question>\\nA:``.

Ours builds its prompts itself (the MMLU rows through the project's ``mmlu`` loader, TruthfulQA
through ``data/truthfulqa.py``), scores them with ``HFBackend.loglikelihood_batch`` (one request per
question: MMLU's four options, or the union of a TruthfulQA question's MC1 and MC2 options) and
picks with ``scoring/cloze.py``. The script checks that every context and continuation is
byte-identical to the ``arguments`` lm-eval logged, then compares per item: the acc, acc_norm,
acc_bytes and acc_mutual_info picks (lm-eval's picks are ``numpy.argmax`` over its logged
log-likelihoods, as in ``ConfigurableTask.process_results``; their correctness is checked against
lm-eval's own per-sample metrics), MC1 right/wrong, MC2 within 1e-4, and the largest
log-likelihood difference. Speed: our scoring time against lm-eval's time inside
``loglikelihood`` (each in its own process, at different moments: read with the load noted), and,
in one process and interleaved, the first ``--speed-items`` MMLU items and TruthfulQA questions
packed (one pass over each context) against a row per option: the tokens the model read and the
time.

    python benchmarks/cloze_fidelity.py --lm-eval-python /work/scratch-lmeval/.venv/bin/python

lm-eval is not a project dependency: ``--lm-eval-python`` names an interpreter that has
``lm-eval[hf]`` (0.4.x) installed; the script runs its lm-eval half there, in a child process.
``--reuse-lm-eval`` keeps lm-eval's results from an earlier run in the same ``--work`` folder when
they were made from identical data files; an interrupted lm-eval run resumes from its request
cache in the work folder (lm-eval's half is about 12,800 requests, some hours on one busy CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# 526 items: mathematics, logic (50 items with non-ASCII options: "¬", "∨", "≡"), science, two with an
# option that has surrounding whitespace (kept in the continuation, as lm-eval keeps it)
SUBJECTS = ("abstract_algebra", "formal_logic", "college_chemistry", "computer_security", "global_facts")
MMLU_METRICS = ("acc", "acc_norm", "acc_bytes", "acc_mutual_info")
MC2_TOLERANCE = 1e-4
REQUIRED_AGREEMENT = 0.995


def main() -> None:
    args = _parser().parse_args()
    if args.lm_eval_worker:
        _lm_eval_worker(Path(args.work), args.threads, args.lm_eval_batch_size, Path(args.lm_eval_worker), args.tasks)
        return
    sys.path.insert(0, str(REPO))
    work = Path(args.work or tempfile.mkdtemp(prefix="cloze-fidelity-"))
    shared = Path(args.data or os.environ.get("LLMEVAL_SHARED_DATA") or REPO.parent / "shared" / "data")
    digest = _write_data(shared, work, args.limit, args.tasks)
    print(f"data written to {work} ({digest[:12]})", flush=True)
    folder = _model_folder()
    theirs = _lm_eval(work, folder, digest, args)
    ours = _ours(shared, args)
    report = _compare(ours, theirs, args)
    (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    if not report["passed"]:
        sys.exit("fidelity below the bar: see report.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm-eval-python", default=sys.executable,
                        help="an interpreter with lm-eval[hf] installed (default: this one)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for each side (default 1)")
    parser.add_argument("--batch-size", type=int, default=16, help="our hf batch size (default 16)")
    parser.add_argument("--lm-eval-batch-size", type=int, default=1, help="lm-eval's batch size (default 1, its own)")
    parser.add_argument("--limit", type=int, default=0,
                        help="the first N items of each MMLU subject and of TruthfulQA (default 0: all)")
    parser.add_argument("--speed-items", type=int, default=16,
                        help="MMLU items and TruthfulQA questions timed packed and unpacked (default 16 each)")
    parser.add_argument("--work", help="work folder (default: a new temporary folder)")
    parser.add_argument("--data", help="the shared data folder (default: $LLMEVAL_SHARED_DATA or ../shared/data)")
    parser.add_argument("--reuse-lm-eval", action="store_true",
                        help="keep lm-eval's results in --work when they were made from the same data")
    parser.add_argument("--tasks", choices=("all", "mmlu", "truthfulqa"), default="all",
                        help="compare only MMLU or only TruthfulQA (default: both)")
    parser.add_argument("--lm-eval-worker", help=argparse.SUPPRESS)
    return parser


# --- the data, in the hub datasets' shapes -------------------------------------------------------

def _write_data(shared: Path, work: Path, limit: int, tasks: str = "all") -> str:
    """cais/mmlu rows ({question, subject, choices, answer index}) per subject and split, and
    truthful_qa/multiple_choice rows; returns a digest of everything written."""
    import pandas as pd

    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for subject in SUBJECTS:
        for split in ("dev", "test"):
            frame = pd.read_csv(shared / "mmlu" / split / f"{subject}_{split}.csv", header=None, dtype=str,
                                keep_default_na=False)
            rows = [{"question": q, "subject": subject, "choices": [a, b, c, d], "answer": "ABCD".index(answer)}
                    for q, a, b, c, d, answer in frame.itertuples(index=False)]
            rows = rows[:limit] if limit and split == "test" else rows
            digest.update(_write_jsonl(data / f"mmlu_{subject}_{split}.jsonl", rows))
    raw = json.loads((shared / "truthfulqa" / "data" / "v1" / "mc_task.json").read_text(encoding="utf-8"))
    rows = [{"question": r["question"],
             **{key: {"choices": list(r[key]), "labels": list(r[key].values())} for key in ("mc1_targets", "mc2_targets")}}
            for r in raw[:limit or None]]
    digest.update(_write_jsonl(data / "truthfulqa_mc.jsonl", rows))
    if tasks != "all":
        digest.update(tasks.encode())
    return digest.hexdigest()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(text)
    return text


def _model_folder() -> Path:
    """The converted folder the hf backend reads for the bundled GGUF (converted now if missing)."""
    from pytest_llmeval.backends.bundled import bundled_model_path
    from pytest_llmeval.backends.hf_load import converted_folder

    folder = converted_folder(bundled_model_path())
    if folder is None:
        sys.exit("cannot write the hf conversion cache; lm-eval needs the converted folder")
    return folder


# --- ours -----------------------------------------------------------------------------------------

MMLU_DESCRIPTION = "The following are questions (with answers) about {subject}.\n\n"
MMLU_PROMPT = "Question: {question}\nAnswer:"


def _ours(shared: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The project's hf backend and cloze scoring on prompts built here, independently of lm-eval."""
    from pytest_llmeval.backends.base import BackendSettings
    from pytest_llmeval.backends.hf import HFBackend

    backend = HFBackend(BackendSettings(backend="hf", model="SmolLM2-135M-Instruct", extra={
        "dtype": "float32", "device": "cpu", "batch_size": args.batch_size, "n_threads": args.threads}))
    print(f"ours: hf backend, packed={backend.model.packs}", flush=True)
    started = time.perf_counter()
    mmlu, mmlu_requests = _ours_mmlu(backend, shared, args.limit) if args.tasks != "truthfulqa" else ({}, [])
    truthfulqa, truthfulqa_requests = (_ours_truthfulqa(backend, shared, args.limit) if args.tasks != "mmlu"
                                       else ({}, []))
    elapsed = round(time.perf_counter() - started, 1)
    sample = mmlu_requests[0:2 * args.speed_items:2] + truthfulqa_requests[:args.speed_items]
    return {"mmlu": mmlu, "truthfulqa": truthfulqa, "model_s": elapsed, "packed": backend.model.packs,
            "packing": _packing_speed(backend, sample)}


def _ours_mmlu(backend: Any, shared: Path, limit: int) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    from pytest_llmeval.backends.base import LoglikelihoodRequest
    from pytest_llmeval.data import DataSpec, load
    from pytest_llmeval.scoring.cloze import cloze_continuations, cloze_picks

    loaded = load(DataSpec(format="mmlu", path=shared / "mmlu", split="test"))
    items = [(subject, sample) for subject in SUBJECTS for sample in loaded[subject][:limit or None]]
    requests = []
    for subject, sample in items:  # lm-eval's template strips the question; a suite template cannot
        context = (MMLU_DESCRIPTION.format(subject=subject.replace("_", " "))
                   + MMLU_PROMPT.format(question=sample.fields["question"].strip()))
        continuations = cloze_continuations(sample.choices)
        requests += [LoglikelihoodRequest(context, continuations), LoglikelihoodRequest("", continuations)]
    replies = _score(backend, requests, "mmlu")
    out = {}
    for n, (subject, sample) in enumerate(items):
        lls, unconditional = replies[2 * n].logprobs, replies[2 * n + 1].logprobs
        picks = cloze_picks(lls, sample.choices, unconditional)
        out[f"{subject}/{sample.id}"] = {
            "context": requests[2 * n].context, "continuations": list(requests[2 * n].continuations),
            "lls": list(lls), "unconditional": list(unconditional), "gold": sample.labels.index(sample.target),
            "picks": {"acc": picks.acc, "acc_norm": picks.acc_norm, "acc_bytes": picks.acc_bytes,
                      "acc_mutual_info": picks.acc_mutual_info}}
    return out, requests


def _ours_truthfulqa(backend: Any, shared: Path, limit: int) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """One request per question: its MC2 answers, which include every MC1 answer."""
    from pytest_llmeval.backends.base import LoglikelihoodRequest
    from pytest_llmeval.data.truthfulqa import qa_prompt, read_truthfulqa
    from pytest_llmeval.scoring.cloze import cloze_continuations, truthfulqa_mc1, truthfulqa_mc2

    rows = read_truthfulqa(shared / "truthfulqa")[:limit or None]
    if any(not set(row.mc1_choices) <= set(row.mc2_choices) for row in rows):
        sys.exit("an MC1 answer that is not an MC2 answer: score them in separate requests")
    requests = [LoglikelihoodRequest(qa_prompt(row.question), cloze_continuations(row.mc2_choices)) for row in rows]
    out = {}
    for row, request, reply in zip(rows, requests, _score(backend, requests, "truthfulqa")):
        by_text = dict(zip(row.mc2_choices, reply.logprobs))
        mc1 = [by_text[text] for text in row.mc1_choices]
        out[row.id] = {"context": request.context, "mc1_continuations": list(cloze_continuations(row.mc1_choices)),
                       "mc2_continuations": list(request.continuations), "mc1_lls": mc1, "mc2_lls": list(reply.logprobs),
                       "mc1": truthfulqa_mc1(mc1, row.mc1_labels), "mc2": truthfulqa_mc2(reply.logprobs, row.mc2_labels)}
    return out, requests


def _packing_speed(backend: Any, requests: list[Any]) -> dict[str, Any]:
    """The same requests packed and with a row per option, interleaved twice: the tokens the
    model read (exact) and the faster of two timings (a shared machine's load moves both)."""
    from pytest_llmeval.backends.hf_score import plan_reads, score_reads

    found: dict[str, dict[str, Any]] = {}
    for pack in (True, False, True, False):
        started = time.perf_counter()
        rows, reads = plan_reads(backend.model.tokenizer, requests, backend.max_seq_len, pack=pack)
        score_reads(backend.model, rows, reads, backend.options.batch_size)
        entry = found.setdefault("packed" if pack else "row_per_option",
                                 {"rows": len(rows), "tokens": sum(len(row.tokens) for row in rows), "s": []})
        entry["s"].append(round(time.perf_counter() - started, 2))
    packed, plain = found["packed"], found["row_per_option"]
    return {"requests": len(requests), **found, "tokens_ratio": round(plain["tokens"] / packed["tokens"], 2),
            "speedup": round(min(plain["s"]) / min(packed["s"]), 2)}


def _score(backend: Any, requests: list[Any], label: str) -> list[Any]:
    replies: list[Any] = []
    started = time.perf_counter()
    for at in range(0, len(requests), 64):
        replies += backend.loglikelihood_batch(requests[at:at + 64])
        print(f"ours {label}: {len(replies)}/{len(requests)} requests, {time.perf_counter() - started:.0f} s", flush=True)
    return replies


# --- the comparison ------------------------------------------------------------------------------

def _compare(ours: dict[str, Any], theirs: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    mmlu = _compare_mmlu(ours["mmlu"], theirs["samples"]) if ours["mmlu"] else None
    truthfulqa = _compare_truthfulqa(ours["truthfulqa"], theirs["samples"]) if ours["truthfulqa"] else None
    passed = ((mmlu is None or (mmlu["identical_requests"] == mmlu["items"] and mmlu["lm_eval_picks_match_its_metrics"]
                                and all(m["rate"] >= REQUIRED_AGREEMENT for m in mmlu["agreement"].values())))
              and (truthfulqa is None or (truthfulqa["identical_requests"] == truthfulqa["items"]
                                          and truthfulqa["mc1_agreement"]["rate"] >= REQUIRED_AGREEMENT
                                          and truthfulqa["mc2_within_tolerance"]["same"] == truthfulqa["items"]
                                          and truthfulqa["lm_eval_mc1_matches_its_lls"])))
    gaps = [part["max_abs_ll_difference"] for part in (mmlu, truthfulqa) if part is not None]
    return {"passed": passed, "mmlu": mmlu, "truthfulqa": truthfulqa, "tasks": args.tasks,
            "max_abs_loglikelihood_difference": max(gaps),
            "lm_eval_version": theirs.get("version"),
            "speed": {"ours_s": ours["model_s"], "lm_eval_model_s": theirs["model_s"],
                      "lm_eval_wall_s": theirs.get("wall_s"), "ours_packed": ours["packed"],
                      "packing": ours["packing"]},
            "settings": {"threads": args.threads, "batch_size": args.batch_size,
                         "lm_eval_batch_size": args.lm_eval_batch_size, "dtype": "float32", "device": "cpu"},
            "environment": _environment()}


def _lm_eval_picks(lls: list[float], choices: list[str], unconditional: list[float]) -> dict[str, int]:
    """lm-eval's ``pred``, ``pred_norm``, ``pred_byte`` and mutual-information argmax, as
    ``ConfigurableTask.process_results`` computes them from its log-likelihoods."""
    import numpy as np

    values = np.array(lls)
    return {"acc": int(np.argmax(values)),
            "acc_norm": int(np.argmax(values / np.array([float(len(c)) for c in choices]))),
            "acc_bytes": int(np.argmax(values / np.array([float(len(c.encode("utf-8"))) for c in choices]))),
            "acc_mutual_info": int(np.argmax([c - u for c, u in zip(lls, unconditional)]))}


def _compare_mmlu(ours: dict[str, dict[str, Any]], samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    same = {metric: 0 for metric in MMLU_METRICS}
    differ: dict[str, list[str]] = {metric: [] for metric in MMLU_METRICS}
    identical, consistent, gaps = 0, True, [0.0]
    accuracy = {side: {metric: 0 for metric in MMLU_METRICS} for side in ("ours", "lm_eval")}
    for subject in SUBJECTS:
        for sample in samples[f"fidelity_mmlu_{subject}"]:
            key = f"{subject}/{sample['doc_id']}"
            mine, n = ours[key], len(ours[key]["continuations"])
            arguments = [tuple(a) for a in sample["arguments"]]
            identical += arguments == ([(mine["context"], c) for c in mine["continuations"]]
                                       + [("", c) for c in mine["continuations"]])
            choices = [continuation[1:] for _, continuation in arguments[:n]]  # less lm-eval's target delimiter
            picks = _lm_eval_picks(sample["lls"][:n], choices, sample["lls"][n:])
            gaps += [abs(a - b) for a, b in zip(mine["lls"] + mine["unconditional"], sample["lls"])]
            for metric in MMLU_METRICS:
                consistent &= float(picks[metric] == mine["gold"]) == sample["metrics"][metric]
                accuracy["lm_eval"][metric] += sample["metrics"][metric]
                accuracy["ours"][metric] += mine["picks"][metric] == mine["gold"]
                if mine["picks"][metric] == picks[metric]:
                    same[metric] += 1
                else:
                    differ[metric].append(key)
    items = len(ours)
    return {"items": items, "identical_requests": identical, "lm_eval_picks_match_its_metrics": consistent,
            "agreement": {m: {"same": same[m], "of": items, "rate": round(same[m] / items, 4), "differ": differ[m]}
                          for m in MMLU_METRICS},
            "accuracy": {side: {m: round(v / items, 4) for m, v in values.items()} for side, values in accuracy.items()},
            "max_abs_ll_difference": max(gaps)}


def _compare_truthfulqa(ours: dict[str, dict[str, Any]], samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    mc1 = {str(s["doc_id"]): s for s in samples["fidelity_truthfulqa_mc1"]}
    mc2 = {str(s["doc_id"]): s for s in samples["fidelity_truthfulqa_mc2"]}
    identical, mc1_same, mc2_same, consistent = 0, 0, 0, True
    mc1_differ: list[str] = []
    mc2_gaps, ll_gaps = [0.0], [0.0]
    for key, mine in ours.items():
        one, two = mc1[key], mc2[key]
        identical += ([tuple(a) for a in one["arguments"]] == [(mine["context"], c) for c in mine["mc1_continuations"]]
                      and [tuple(a) for a in two["arguments"]] == [(mine["context"], c) for c in mine["mc2_continuations"]])
        consistent &= float(max(range(len(one["lls"])), key=one["lls"].__getitem__) == 0) == one["metrics"]["acc"]
        if float(mine["mc1"]) == one["metrics"]["acc"]:
            mc1_same += 1
        else:
            mc1_differ.append(key)
        mc2_gaps.append(abs(mine["mc2"] - two["metrics"]["acc"]))
        mc2_same += mc2_gaps[-1] <= MC2_TOLERANCE
        ll_gaps += [abs(a - b) for a, b in zip(mine["mc1_lls"] + mine["mc2_lls"], one["lls"] + two["lls"])]
    items = len(ours)
    return {"items": items, "identical_requests": identical, "lm_eval_mc1_matches_its_lls": consistent,
            "mc1_agreement": {"same": mc1_same, "of": items, "rate": round(mc1_same / items, 4), "differ": mc1_differ},
            "mc2_within_tolerance": {"same": mc2_same, "of": items, "tolerance": MC2_TOLERANCE,
                                     "max_abs_difference": max(mc2_gaps)},
            "scores": {"ours": {"mc1": round(sum(m["mc1"] for m in ours.values()) / items, 4),
                                "mc2": round(sum(m["mc2"] for m in ours.values()) / items, 4)},
                       "lm_eval": {"mc1": round(sum(s["metrics"]["acc"] for s in mc1.values()) / items, 4),
                                   "mc2": round(sum(s["metrics"]["acc"] for s in mc2.values()) / items, 4)}},
            "max_abs_ll_difference": max(ll_gaps)}


def _environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                             "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    for name in ("torch", "transformers", "pytest-llmeval"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


# --- lm-eval's half (runs in the child, under --lm-eval-python) ----------------------------------

def _lm_eval(work: Path, folder: Path, digest: str, args: argparse.Namespace) -> dict[str, Any]:
    out = work / "lm_eval.json"
    if args.reuse_lm_eval and out.is_file():
        kept = json.loads(out.read_text(encoding="utf-8"))
        if kept.get("data_digest") == digest:
            print(f"reusing lm-eval's results in {out}", flush=True)
            return kept
    command = [args.lm_eval_python, str(Path(__file__).resolve()), "--lm-eval-worker", str(folder),
               "--work", str(work), "--threads", str(args.threads),
               "--lm-eval-batch-size", str(args.lm_eval_batch_size), "--tasks", args.tasks]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(), check=False)
    if done.returncode != 0:
        sys.exit(f"lm-eval failed ({done.returncode})")
    result = json.loads(out.read_text(encoding="utf-8"))
    result.update(data_digest=digest, wall_s=round(time.perf_counter() - started, 1))
    out.write_text(json.dumps(result), encoding="utf-8")
    return result


def _lm_eval_worker(work: Path, threads: int, batch_size: int, folder: Path, which: str = "all") -> None:
    """lm-eval's HFLM on its own task files, the data source replaced by the local files."""
    import torch

    torch.set_num_threads(threads)
    from importlib.metadata import version

    import lm_eval
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval_timing import time_loglikelihood

    tasks = [group for group in _write_task_files(work, Path(lm_eval.__file__).parent / "tasks")
             if which == "all" or which in group[0]]
    lm = HFLM(pretrained=str(folder), dtype="float32", device="cpu", batch_size=batch_size)
    spent = time_loglikelihood(lm)
    manager = TaskManager(include_path=str(work / "tasks"))
    samples: dict[str, list[dict[str, Any]]] = {}
    for group in tasks:  # in turn, through lm-eval's request cache (see _write_task_files)
        results = simple_evaluate(model=lm, tasks=group, task_manager=manager, log_samples=True, bootstrap_iters=0,
                                  use_cache=str(work / "lm_eval_cache"))
        samples.update({task: [_logged(s) for s in results["samples"][task]] for task in group})
    (work / "lm_eval.json").write_text(json.dumps({
        "model_s": round(spent[0], 1), "version": version("lm_eval"), "samples": samples}), encoding="utf-8")


def _write_task_files(work: Path, lm_eval_tasks: Path) -> list[list[str]]:
    """One task file per lm-eval task, including lm-eval's own by absolute path (JSON is YAML);
    returns them in the groups they run in: MC2 first, then MC1, whose requests are a subset of
    MC2's (every MC1 answer is an MC2 answer, after the same prompt), so lm-eval's sqlite request
    cache (``use_cache``) answers them all. The cache also lets an interrupted run resume."""
    folder = work / "tasks"
    folder.mkdir(exist_ok=True)
    data = work / "data"
    metrics = [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in MMLU_METRICS]
    configs = {f"fidelity_mmlu_{s}": {
        "include": str(lm_eval_tasks / "mmlu" / "continuation" / f"mmlu_{s}.yaml"), "tag": "cloze_fidelity",
        "dataset_path": "json", "dataset_name": None, "metric_list": metrics,
        "dataset_kwargs": {"data_files": {"test": str(data / f"mmlu_{s}_test.jsonl"),
                                          "dev": str(data / f"mmlu_{s}_dev.jsonl")}}} for s in SUBJECTS}
    for name in ("mc1", "mc2"):
        configs[f"fidelity_truthfulqa_{name}"] = {
            "include": str(lm_eval_tasks / "truthfulqa" / f"truthfulqa_{name}.yaml"), "tag": "cloze_fidelity",
            "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"validation": str(data / "truthfulqa_mc.jsonl")}}}
    for task, config in configs.items():
        (folder / f"{task}.yaml").write_text(json.dumps({"task": task, **config}, indent=2), encoding="utf-8")
    return [["fidelity_truthfulqa_mc2"], ["fidelity_truthfulqa_mc1"], [f"fidelity_mmlu_{s}" for s in SUBJECTS]]


def _logged(sample: dict[str, Any]) -> dict[str, Any]:
    """What the comparison needs from one logged sample: the requests, the log-likelihoods and
    lm-eval's own per-sample metrics."""
    return {"doc_id": sample["doc_id"], "arguments": [list(a[:2]) for a in sample["arguments"]],
            "lls": [float(r[0]) for r in sample["filtered_resps"]],
            "metrics": {m: float(sample[m]) for m in (*MMLU_METRICS,) if m in sample}}


def _env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


if __name__ == "__main__":
    main()
