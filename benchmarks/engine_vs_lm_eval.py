"""Issue 4, benchmark 1: the request engine against lm-evaluation-harness on one slow server.

What is measured, and why: an evaluation against a remote endpoint is bound by latency, so what
matters is how well the client keeps ``concurrency`` requests in flight and how little it adds
around them. Both tools answer the same N samples (default 2,000) from the same loopback
OpenAI-compatible chat server (aiohttp, in this script's process), which answers every request
after ``--delay`` seconds (default 0.2) and holds any number of requests at once.

- ours: a generated ``*.llmeval.yaml`` suite (jsonl, ``exact_match``), run as
  ``pytest SUITE --llm-backend=openai --llm-base-url=... --llm-concurrency=32 --llm-cache=off``;
- lm-eval: ``lm_eval --model local-chat-completions`` with ``num_concurrent=32`` and
  ``--apply_chat_template`` on a local ``generate_until`` task that reads the same jsonl.

Each is timed as a whole process (start-up, collection, requests, report). The server records
when each request arrived and when its reply was sent, which gives the request phase as the server
saw it (first arrival to last reply); the ideal is N x delay / concurrency (12.5 s by default).

Targets (issue 4): ours / lm-eval wall <= 0.6; our request phase / ideal <= 1.10; the server
receives exactly N requests from us (no duplicates, no retries).

    python benchmarks/engine_vs_lm_eval.py              # both tools, once
    python benchmarks/engine_vs_lm_eval.py --repeat 3   # three rounds, to see the noise

Needs ``pip install lm-eval`` (not a project dependency; it brings aiohttp, used for the server),
or ``aiohttp`` here and ``--lm-eval-python`` naming another environment's python that has lm-eval:

    python benchmarks/engine_vs_lm_eval.py --lm-eval-python /work/scratch-lmeval/.venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web


class LoopbackServer:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 (aiohttp, in a daemon thread): it answers
    ``POST /v1/chat/completions`` after ``delay_s`` with ``replies[last user message]`` (else "0"),
    holds any number of requests at once, and records when each arrived and when it was answered.

    Not the tests' ``FakeOpenAIServer``: its thread per connection and pure-Python HTTP parsing
    cost more per request than the client under test (at zero latency it halved our throughput)."""

    def __init__(self, replies: dict[str, str], delay_s: float = 0.0) -> None:
        self.replies, self.delay_s = replies, delay_s
        self.times: list[tuple[float, float]] = []  # (arrived, answered), perf_counter seconds
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _chat(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        body = await request.json()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
        text = self.replies.get(users[-1] if users else "", "0")
        reply = {"id": f"chatcmpl-{len(self.times)}", "object": "chat.completion", "created": int(time.time()),
                 "model": body.get("model", "bench"),
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}
        self.times.append((arrived, time.perf_counter()))  # one event loop thread: no lock needed
        return web.json_response(reply)

    def _serve(self) -> None:
        async def start() -> None:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._chat)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> LoopbackServer:  # noqa: PYI034 - not subclassed
        threading.Thread(target=self._serve, name="loopback-server", daemon=True).start()
        self._ready.wait()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    def phase(self) -> dict[str, float]:
        """Requests received, first arrival to last reply (s), and the most requests held at once."""
        times = list(self.times)
        if not times:
            return {"requests": 0, "phase_s": 0.0, "max_in_flight": 0}
        events = sorted([(a, 1) for a, _ in times] + [(r, -1) for _, r in times])
        held = peak = 0
        for _, step in events:
            held += step
            peak = max(peak, held)
        return {"requests": len(times), "phase_s": max(r for _, r in times) - min(a for a, _ in times),
                "max_in_flight": peak}


def write_inputs(work: Path, n: int) -> dict[str, str]:
    """The jsonl data, our suite, and lm-eval's task; returns the server's replies (all right)."""
    work.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"q{i}", "question": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(n)]
    (work / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "bench.llmeval.yaml").write_text(
        "name: bench\ntask: exact_match\n"
        "data: {format: jsonl, path: data.jsonl, subject: arithmetic, fields: {id: id, target: answer}}\n"
        'prompt: "{question}"\ngeneration: {max_tokens: 16, stop: ["\\n"]}\n')
    tasks = work / "lm_eval_tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "bench_llmeval.yaml").write_text(
        "task: bench_llmeval\ndataset_path: json\n"
        f"dataset_kwargs: {{data_files: {{test: {json.dumps(str(work / 'data.jsonl'))}}}}}\n"
        "test_split: test\noutput_type: generate_until\n"
        'doc_to_text: "{{question}}"\ndoc_to_target: "{{answer}}"\n'
        'generation_kwargs: {until: ["\\n"], max_gen_toks: 16, do_sample: false, temperature: 0}\n'
        "metric_list: [{metric: exact_match, aggregation: mean, higher_is_better: true}]\n")
    return {r["question"]: r["answer"] for r in rows}


def timed(cmd: list[str], cwd: Path, log: Path, server: LoopbackServer,
          env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one whole process against ``server``: its wall time, exit status, and how the time
    splits into before the first request, the request phase and after the last reply."""
    started = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode
    ended = time.perf_counter()
    times = list(server.times)
    before = min(a for a, _ in times) - started if times else float("nan")
    after = ended - max(r for _, r in times) if times else float("nan")
    return {"wall_s": ended - started, "rc": rc, "before_s": before, "after_s": after, **server.phase(),
            "cmd": " ".join(cmd)}


def run_ours(work: Path, replies: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    with LoopbackServer(replies, args.delay) as server:
        cmd = [sys.executable, "-m", "pytest", "bench.llmeval.yaml", "--llm-backend=openai",
               f"--llm-base-url={server.base_url}", "--llm-model=bench", f"--llm-concurrency={args.concurrency}",
               "--llm-cache=off", "-q", "-p", "no:cacheprovider", *args.pytest_arg]
        return timed(cmd, work, work / "ours.log", server)


def run_lm_eval(work: Path, replies: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    with LoopbackServer(replies, args.delay) as server:
        model_args = (f"model=bench,base_url={server.base_url}/chat/completions,num_concurrent={args.concurrency},"
                      "max_retries=3,tokenized_requests=False,timeout=60")
        cmd = [args.lm_eval_python, "-m", "lm_eval", "--model", "local-chat-completions", "--model_args", model_args,
               "--tasks", "bench_llmeval", "--include_path", str(work / "lm_eval_tasks"), "--apply_chat_template",
               "--batch_size", "1"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        return timed(cmd, work, work / "lm_eval.log", server, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.2, help="server latency per request, seconds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (ours, lm-eval)")
    parser.add_argument("--skip-lm-eval", action="store_true")
    parser.add_argument("--pytest-arg", action="append", default=[],
                        help="one more argument for our pytest run (e.g. -p no:hypothesispytest), repeatable")
    parser.add_argument("--lm-eval-python", default=sys.executable, help="the python that runs lm-eval (default: this one)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "llmeval-bench" / "engine_vs_lm_eval",
                        help="folder for the generated suite, task, data and logs")
    args = parser.parse_args()

    replies = write_inputs(args.work, args.samples)
    ideal = args.samples * args.delay / args.concurrency
    print(f"{args.samples} samples, {args.delay * 1000:g} ms per request, concurrency {args.concurrency}: "
          f"ideal request phase {ideal:.2f} s; logs in {args.work}")

    def show(round_: int, name: str, r: dict[str, Any]) -> None:
        print(f"[{round_}] {name:8s} wall {r['wall_s']:6.2f} s (before first request {r['before_s']:5.2f} s, "
              f"requests {r['phase_s']:5.2f} s = {r['phase_s'] / ideal:.3f} x ideal, after last reply "
              f"{r['after_s']:5.2f} s)  rc {r['rc']}  requests {r['requests']}  max in flight {r['max_in_flight']}  "
              f"(load {os.getloadavg()[0]:.2f})")

    for round_ in range(1, args.repeat + 1):
        ours = run_ours(args.work, replies, args)
        show(round_, "ours:", ours)
        if args.skip_lm_eval:
            continue
        theirs = run_lm_eval(args.work, replies, args)
        show(round_, "lm-eval:", theirs)
        print(f"[{round_}] ours / lm-eval wall = {ours['wall_s'] / theirs['wall_s']:.3f} (target <= 0.6); "
              f"our phase / ideal = {ours['phase_s'] / ideal:.3f} (target <= 1.10); "
              f"our requests = {ours['requests']} (target {args.samples})")
    print("commands:\n  " + ours["cmd"] + ("" if args.skip_lm_eval else "\n  " + theirs["cmd"]))


if __name__ == "__main__":
    main()
