"""Issue 3: the ``hf`` backend against lm-evaluation-harness's ``hf`` model on MMLU, 0-shot, by
log-likelihood: do they pick the same option on every item, and how fast is each?

All three systems answer the same items with the same weights: the bundled SmolLM2-135M-Instruct
GGUF (Q4_1), read by transformers (float32, CPU) for ours and for lm-eval, and by llama.cpp for
the ``llamacpp`` backend, on the same number of CPU threads (``--threads``, default 1: on a
shared 2-core machine one thread per process is the stable choice, see the hf module docstring).

- The items: the first ``--per-subject`` rows of each subject's MMLU test file (all 57 subjects;
  ``--per-subject 0`` for all 14,042), written to a work folder in the ``mmlu`` layout. The
  question is written stripped, because lm-eval's prompt uses ``question.strip()`` (963 of the
  14,042 questions have surrounding whitespace) and a suite template has no strip.
- The prompt: lm-eval's MMLU task, ``The following are multiple choice questions (with
  answers) about {subject}.\\n\\n{question}\\nA. ...\\nD. ...\\nAnswer:`` with continuations
  " A".." D". lm-eval reads it through ``lm_eval_tasks/mmlu_llmeval_subset.yaml`` (its own MMLU
  template over a local jsonl); the script checks that both tools built the same context strings.
- ours: ``pytest mmlu.llmeval.yaml --llm-model=hf-bench --llm-cache=off --llm-report-dir ...``
  (a profile with ``backend: hf``), picks read from samples.jsonl.
- lm-eval: ``simple_evaluate`` with an ``HFLM(pretrained=<folder>, gguf_file=<file>)`` in a
  child process, picks from its logged samples; once at its default batch size (1) and once at
  ours (``--lm-eval-batch-size`` to choose). Agreement is counted against the first of these.
- llamacpp: the same suite with a ``backend: llamacpp`` profile.

Speed is given two ways: the whole process (start-up, model load, collection, scoring, reports),
and the model phase alone (lm-eval: the time inside ``loglikelihood``; ours and llamacpp: the
sum of the samples' ``latency_s``, which for a batched backend is each sample's share of its
batch). ``--repeat N`` runs the three N times, interleaved, and keeps each one's fastest run.

    python benchmarks/hf_mmlu_fidelity.py --per-subject 5
    python benchmarks/hf_mmlu_fidelity.py --per-subject 0 --threads 2    # the full test split

Needs ``pip install 'lm-eval[hf]'`` (not a project dependency) and the shared data
(``$LLMEVAL_SHARED_DATA``, else ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TASK_YAML = Path(__file__).resolve().parent / "lm_eval_tasks" / "mmlu_llmeval_subset.yaml"
TASK = "mmlu_llmeval_subset"
PREAMBLE = "The following are multiple choice questions (with answers) about {subject}.\n\n"
PROMPT = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"
LETTERS = "ABCD"


def main() -> None:
    args = _parser().parse_args()
    if args.lm_eval_worker:
        _lm_eval_worker(Path(args.lm_eval_worker), args)
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="hf-mmlu-"))
    n_items = _write_items(_data_dir(args), work, args.per_subject)
    _write_suite(work, args)
    print(f"{n_items} items in {work}", flush=True)
    lm_eval_sizes = args.lm_eval_batch_size or [1, args.batch_size]
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], **{f"lm-eval-bs{n}": [] for n in lm_eval_sizes}, "llamacpp": []}
    for round_ in range(args.repeat):
        runs["ours"].append(_run_plugin(work, "hf-bench", f"ours-{round_}"))
        for size in lm_eval_sizes:
            runs[f"lm-eval-bs{size}"].append(_run_lm_eval(work, args, size, f"lm-eval-bs{size}-{round_}"))
        if not args.skip_llamacpp:
            runs["llamacpp"].append(_run_plugin(work, "llamacpp-bench", f"llamacpp-{round_}"))
    answers = {(r["subject"], r["id"]): LETTERS[r["answer"]]
               for r in map(json.loads, (work / "mmlu_subset.jsonl").read_text(encoding="utf-8").splitlines())}
    report = _compare({k: min(v, key=lambda r: r["model_s"]) for k, v in runs.items() if v}, runs, args, answers)
    (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-subject", type=int, default=5, help="first N test rows per subject (0: all; default 5)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every system (default 1)")
    parser.add_argument("--batch-size", type=int, default=16, help="our batch size (default 16)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="weights and activations for ours and lm-eval (default float32)")
    parser.add_argument("--lm-eval-batch-size", type=int, nargs="+", default=None,
                        help="lm-eval's batch sizes, one run each (default: 1, its own default, and ours)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, interleaved; the fastest run of each counts")
    parser.add_argument("--skip-llamacpp", action="store_true", help="do not run the llamacpp backend")
    parser.add_argument("--work", help="work folder (default: a new temporary folder)")
    parser.add_argument("--data", help="the MMLU folder (default: $LLMEVAL_SHARED_DATA/mmlu or ../shared/data/mmlu)")
    parser.add_argument("--lm-eval-worker", help=argparse.SUPPRESS)
    return parser


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data:
        return Path(args.data)
    shared = Path(os.environ.get("LLMEVAL_SHARED_DATA") or REPO.parent / "shared" / "data")
    return shared / "mmlu"


def _write_items(data: Path, work: Path, per_subject: int) -> int:
    """The subset in the ``mmlu`` layout for the plugin, and as jsonl for lm-eval (same rows)."""
    import pandas as pd

    folder = work / "mmlu" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for file in sorted((data / "test").glob("*_test.csv")):
        subject = file.name[: -len("_test.csv")]
        frame = pd.read_csv(file, header=None, keep_default_na=False, dtype=str)
        kept = frame if per_subject <= 0 else frame.head(per_subject)
        with (folder / file.name).open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for index, (question, a, b, c, d, answer) in enumerate(kept.itertuples(index=False)):
                writer.writerow([question.strip(), a, b, c, d, answer])
                rows.append({"id": str(index), "subject": subject, "subject_text": subject.replace("_", " "),
                             "question": question.strip(), "choices": [a, b, c, d], "answer": LETTERS.index(answer)})
    with (work / "mmlu_subset.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    tasks = work / "lm_eval_tasks"
    tasks.mkdir(exist_ok=True)
    yaml = TASK_YAML.read_text(encoding="utf-8").replace("__DATA_FILE__", json.dumps(str(work / "mmlu_subset.jsonl")))
    (tasks / TASK_YAML.name).write_text(yaml, encoding="utf-8")
    return len(rows)


def _write_suite(work: Path, args: argparse.Namespace) -> None:
    suite = {"name": "mmlu", "task": "multiple_choice", "mode": "ll",
             "data": {"format": "mmlu", "path": "mmlu", "split": "test"},
             "preamble": PREAMBLE, "prompt": PROMPT, "threshold": 0.0}
    (work / "mmlu.llmeval.yaml").write_text(json.dumps(suite, indent=2), encoding="utf-8")  # JSON is YAML
    profiles = {"models": {
        "hf-bench": {"backend": "hf", "model": "SmolLM2-135M-Instruct",
                     "options": {"dtype": args.dtype, "device": "cpu", "batch_size": args.batch_size,
                                 "n_threads": args.threads}},
        "llamacpp-bench": {"backend": "llamacpp", "model": "SmolLM2-135M-Instruct",
                           "options": {"n_ctx": 2048, "n_threads": args.threads}}}}
    (work / "llm_models.yaml").write_text(json.dumps(profiles, indent=2), encoding="utf-8")


def _run_plugin(work: Path, model: str, label: str) -> dict[str, Any]:
    out = work / label
    command = [sys.executable, "-m", "pytest", "mmlu.llmeval.yaml", f"--llm-model={model}", f"--llm-report-dir={out}",
               "--llm-cache=off", "-p", "no:cacheprovider", "-q", "--no-header"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=_env(), check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{label} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    picks = {(s["subject"], s["id"]): s for s in samples}
    print(f"{label}: {len(samples)} samples, {wall:.1f} s", flush=True)
    return {"label": label, "wall_s": wall, "model_s": sum(s["latency_s"] or 0 for s in samples),
            "picks": {k: s["extracted"] for k, s in picks.items()},
            "contexts": {k: s["prompt"] for k, s in picks.items()},
            "logprobs": {k: _parse_reply(s["reply"]) for k, s in picks.items()},
            "errors": sum(s["error"] is not None for s in samples)}


def _parse_reply(reply: str | None) -> list[float]:
    """Our ll replies read "A:-1.2345 B:-2.3456 ..."."""
    return [float(v) for v in re.findall(r"[A-Z]:(-?[0-9.e+-]+)", reply or "")]


def _run_lm_eval(work: Path, args: argparse.Namespace, batch_size: int, label: str) -> dict[str, Any]:
    out = work / f"{label}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--lm-eval-worker", str(out), "--work", str(work),
               "--threads", str(args.threads), "--lm-eval-batch-size", str(batch_size),
               "--dtype", args.dtype]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{label} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    print(f"{label}: {len(result['picks'])} samples, {wall:.1f} s", flush=True)
    return {"label": label, "wall_s": wall, "model_s": result["model_s"], "errors": 0,
            "picks": {tuple(k.split("/")): v for k, v in result["picks"].items()},
            "contexts": {tuple(k.split("/")): v for k, v in result["contexts"].items()},
            "logprobs": {tuple(k.split("/")): v for k, v in result["logprobs"].items()}}


def _lm_eval_worker(out: Path, args: argparse.Namespace) -> None:
    """In a child process: lm-eval's own HF model and MMLU template on the subset."""
    import torch

    torch.set_num_threads(args.threads)
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval_timing import time_loglikelihood

    sys.path.insert(0, str(REPO))
    from pytest_llmeval.backends.bundled import bundled_model_path

    gguf = bundled_model_path()
    lm = HFLM(pretrained=str(gguf.parent), gguf_file=gguf.name, dtype=args.dtype, device="cpu",
              batch_size=args.lm_eval_batch_size[0])
    spent = time_loglikelihood(lm)
    manager = TaskManager(include_path=str(Path(args.work) / "lm_eval_tasks"))
    results = simple_evaluate(model=lm, tasks=[TASK], task_manager=manager, log_samples=True, bootstrap_iters=0)
    picks, contexts, logprobs = {}, {}, {}
    for sample in results["samples"][TASK]:
        key = f"{sample['doc']['subject']}/{sample['doc']['id']}"
        values = [float(r[0]) for r in sample["filtered_resps"]]
        picks[key] = LETTERS[max(range(len(values)), key=values.__getitem__)]
        contexts[key] = sample["arguments"][0][0]
        logprobs[key] = values
    out.write_text(json.dumps({"model_s": spent[0], "picks": picks, "contexts": contexts, "logprobs": logprobs}),
                   encoding="utf-8")


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _compare(best: dict[str, dict[str, Any]], runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace,
             answers: dict[tuple[str, str], str]) -> dict[str, Any]:
    n_items = len(answers)
    ours = best["ours"]
    theirs = best[next(k for k in best if k.startswith("lm-eval"))]  # the first lm-eval batch size
    keys = sorted(theirs["picks"])
    same = [k for k in keys if ours["picks"].get(k) == theirs["picks"][k]]
    gaps = [abs(a - b) for k in keys for a, b in zip(ours["logprobs"].get(k, []), theirs["logprobs"][k])]
    speed = {name: {"samples_per_s_model": round(n_items / r["model_s"], 2), "model_s": round(r["model_s"], 1),
                    "samples_per_s_wall": round(n_items / r["wall_s"], 2), "wall_s": round(r["wall_s"], 1),
                    "all_runs_wall_s": [round(x["wall_s"], 1) for x in runs[name]],
                    "all_runs_model_s": [round(x["model_s"], 1) for x in runs[name]]} for name, r in best.items()}
    report: dict[str, Any] = {
        "items": n_items, "per_subject": args.per_subject, "threads": args.threads, "batch_size": args.batch_size,
        "dtype": args.dtype,
        "repeat": args.repeat,
        "agreement_ours_vs_lm_eval": {"same": len(same), "of": len(keys), "rate": round(len(same) / len(keys), 4),
                                      "differ": [f"{s}/{i}" for s, i in keys if (s, i) not in set(same)]},
        "identical_contexts": sum(ours["contexts"].get(k) == theirs["contexts"][k] for k in keys),
        "max_abs_logprob_gap": round(max(gaps), 5) if gaps else None,  # ours are printed to 4 decimals
        "accuracy": {name: round(sum(r["picks"].get(k) == v for k, v in answers.items()) / n_items, 4)
                     for name, r in best.items()},
        "errors": {name: r["errors"] for name, r in best.items()},
        "speed": speed,
        "ours_speedup": {name: {"model": round(r["model_s"] / ours["model_s"], 2),
                                "wall": round(r["wall_s"] / ours["wall_s"], 2)} for name, r in best.items()},
        "versions": _versions(), "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
    }
    for name in (k for k in best if k.startswith("lm-eval")):
        report[f"agreement_ours_vs_{name}"] = round(sum(ours["picks"].get(k) == best[name]["picks"].get(k)
                                                        for k in keys) / len(keys), 4)
    if "llamacpp" in best:
        picks = best["llamacpp"]["picks"]
        report["agreement_ours_vs_llamacpp"] = round(sum(ours["picks"].get(k) == picks.get(k) for k in keys) / len(keys), 4)
    return report


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("torch", "transformers", "lm_eval", "llama_cpp_python", "gguf", "pytest-llmeval"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


if __name__ == "__main__":
    main()
