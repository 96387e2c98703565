"""Issue 11: how fast the bundled model runs with each llama-cpp-python build, and what the AMX
defence (loading with ``use_extra_bufts=False``) costs.

What is measured, and why: the README installs the portable build (``CMAKE_ARGS=-DGGML_NATIVE=OFF``,
llama.cpp's x86-64-v3 defaults: AVX, AVX2, FMA, F16C, BMI2) because the default ``-march=native``
build crashes on AMX CPUs and dies with SIGILL on older ones. It should keep as much speed as is
safe, so each build is timed on the bundled SmolLM2-135M-Instruct Q4_1 GGUF, in its own process,
loaded by the plugin's own loader (``backends.llamacpp._new_llama``, which is also where
``use_extra_bufts`` is switched):

- prompt: ``eval`` of a 256-token prompt from an empty context;
- generation: 64 greedy tokens after a short prompt, end-of-sequence suppressed.

Both as tokens per second of wall time and per second of the process's CPU time. With
``n_threads=1`` llama.cpp computes on the calling thread alone, so CPU time is the work a build
needs whatever else runs: on a shared machine, where wall time mostly measures the neighbours,
it is the figure to compare. Every configuration is a ``python`` executable (a venv holding one
build) and an extra-buffers setting; configurations take turns within each round, so load falls
on all of them alike, and the table gives each one's median over the rounds and its ratio to the
first configuration's median.

    python benchmarks/llamacpp_builds.py --build portable=.venv/bin/python --build native=/tmp/venv-native/bin/python
    python benchmarks/llamacpp_builds.py --build portable=.venv/bin/python --rounds 9 --threads 1 --extra-bufts both
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_KEYS = ("prompt_cpu", "gen_cpu", "prompt_tps", "gen_tps")
_CHILD = r"""
import json, sys, time
from pathlib import Path
import llama_cpp
from pytest_llmeval.backends.llamacpp import _new_llama

model, threads, extra_bufts, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "on", int(sys.argv[4])
llm = _new_llama(Path(model), 2048, threads, extra_bufts=extra_bufts)
text = " ".join(f"The number {i} is followed by {i + 1}." for i in range(40))
prompt = llm.tokenize(text.encode(), add_bos=True)[:256]
eos = llm.token_eos()
results = []
for _ in range(rounds):
    llm.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    llm.eval(prompt)
    prompt_s, prompt_cpu = time.perf_counter() - wall, time.process_time() - cpu
    llm.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    out = llm.create_completion("Once upon a time", max_tokens=64, temperature=0.0, logit_bias={eos: -1e9})
    gen_s, gen_cpu = time.perf_counter() - wall, time.process_time() - cpu
    made = out["usage"]["completion_tokens"]
    results.append({"prompt_tps": len(prompt) / prompt_s, "gen_tps": made / gen_s,
                    "prompt_cpu": len(prompt) / prompt_cpu, "gen_cpu": made / gen_cpu})
info = llama_cpp.llama_print_system_info().decode().strip()
print(json.dumps({"results": results, "system_info": info, "version": llama_cpp.__version__}))
"""


def _model() -> str:
    sys.path.insert(0, str(ROOT))
    from pytest_llmeval.backends.bundled import bundled_model_path

    return str(bundled_model_path())


def _run(python: str, model: str, threads: int, extra_bufts: str, reps: int) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([python, "-c", _CHILD, model, str(threads), extra_bufts, str(reps)], env=env,
                          capture_output=True, text=True, timeout=900, check=True)
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="append", required=True, metavar="NAME=PYTHON",
                        help="a venv's python holding one llama-cpp-python build (first: the reference)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per process (best of them counts)")
    parser.add_argument("--threads", type=int, default=1, help="n_threads (the plugin's default: half the cores)")
    parser.add_argument("--extra-bufts", choices=["on", "off", "both"], default="both")
    args = parser.parse_args()
    model = _model()
    settings = ["on", "off"] if args.extra_bufts == "both" else [args.extra_bufts]
    configs = [(name, python, e) for name, _, python in (b.partition("=") for b in args.build) for e in settings]
    samples: dict[tuple[str, str], list[dict[str, float]]] = {(n, e): [] for n, _, e in configs}
    info: dict[str, str] = {}
    for round_ in range(args.rounds):
        for name, python, extra in configs:
            measured = _run(python, model, args.threads, extra, args.reps)
            best = {k: max(r[k] for r in measured["results"]) for k in _KEYS}  # type: ignore[union-attr]
            samples[(name, extra)].append(best)
            info[name] = f"{measured['version']}: {measured['system_info']}"
            print(f"round {round_ + 1} {name} extra_bufts={extra}: " + ", ".join(f"{k} {best[k]:.1f}" for k in _KEYS),
                  file=sys.stderr, flush=True)
    for name, text in info.items():
        print(f"- {name}: llama-cpp-python {text}")
    print(f"\nn_threads={args.threads}, {args.rounds} rounds (median of each round's best of {args.reps})\n")
    print("| build | extra buffer types | prompt tok/CPU-s | × ref | generation tok/CPU-s | × ref "
          "| prompt tok/s (wall) | generation tok/s (wall) |")
    print("|---|---|---|---|---|---|---|---|")
    ref: dict[str, float] = {}
    for name, _, extra in configs:
        median = {k: statistics.median(s[k] for s in samples[(name, extra)]) for k in _KEYS}
        ref = ref or median
        print(f"| {name} | {extra} | {median['prompt_cpu']:.1f} | {median['prompt_cpu'] / ref['prompt_cpu']:.2f} "
              f"| {median['gen_cpu']:.1f} | {median['gen_cpu'] / ref['gen_cpu']:.2f} | {median['prompt_tps']:.1f} "
              f"| {median['gen_tps']:.1f} |")


if __name__ == "__main__":
    main()
