"""Issue 16 item 1: the in-flight curve of ``--llm-concurrency auto`` against a server with a capacity.

The loopback server of the tests (``tests/servers/capacity_server.py``) serves K requests at once,
``--latency`` seconds each, and answers 429 beyond that. The script runs the same suite twice as a
user would (``pytest`` in a subprocess, the real openai backend, no journal): once with exactly K
in flight (``--llm-concurrency K``), once with ``auto``. It prints the throughput of both, the
share of 429s after the first 10 s, and the curve that ``results.json`` records (``run.concurrency``:
seconds since the first request, the limit, the requests in flight), one row a second; and it
writes the chart ``report.html`` draws from that curve to ``--svg``.

    python benchmarks/adaptive_curve.py --svg benchmarks/adaptive_curve.svg
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers.capacity_server import CapacityServer, Served  # noqa: E402


def _suite(folder: Path, n: int) -> None:
    rows = [{"id": f"s{i}", "topic": f"t{i % 2}", "question": f"q{i}", "answer": "ok"} for i in range(n)]
    (folder / "data").mkdir()
    (folder / "data" / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "qa.llmeval.yaml").write_text(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n",
        encoding="utf-8")


def _run(folder: Path, server: CapacityServer, concurrency: str, report: str) -> tuple[list[Served], float]:
    first = len(server.log)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "--llm-model=m", f"--llm-base-url={server.base_url}",
                    "--llm-cache=off", "--llm-retries=8", f"--llm-concurrency={concurrency}",
                    f"--llm-report-dir={report}", "-p", "no:cacheprovider"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)
    log = server.log[first:]
    return log, max(s.ended for s in log) - log[0].arrived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=800)
    parser.add_argument("--svg", type=Path, help="write report.html's concurrency chart here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, CapacityServer(capacity=args.capacity, latency_s=args.latency) as server:
        folder = Path(tmp)
        _suite(folder, args.samples)
        fixed, fixed_s = _run(folder, server, str(args.capacity), "fixed")
        auto, auto_s = _run(folder, server, "auto", "auto")
        document = json.loads((folder / "auto" / "results.json").read_text(encoding="utf-8"))
        html = (folder / "auto" / "report.html").read_text(encoding="utf-8")
    (record,) = document["run"]["concurrency"]
    late = [s for s in auto if s.arrived - auto[0].arrived > 10.0]
    print(f"capacity {args.capacity}, {args.latency:g} s a request, {args.samples} samples")
    print(f"fixed {args.capacity}: {args.samples / fixed_s:.1f} samples/s; auto: {args.samples / auto_s:.1f} samples/s "
          f"({fixed_s / auto_s:.3f} of fixed's throughput)")
    print(f"429s: {sum(s.status == 429 for s in auto)} of {len(auto)} requests in all, "
          f"{sum(s.status == 429 for s in late)} of {len(late)} after the first 10 s")
    print(f"limit at the end {record['final_limit']}, highest {record['max_limit']}, "
          f"{record['mean_in_flight']} in flight on average, {record['cuts']} cuts")
    print("| second | limit | in flight |\n|---|---|---|")
    shown = -1
    for seconds, limit, in_flight in record["curve"]:
        if int(seconds) > shown:
            shown = int(seconds)
            print(f"| {seconds:.1f} | {limit} | {in_flight} |")
    if args.svg is not None:
        chart = re.search(r"<svg[^>]*concurrency-chart.*?</svg>", html, re.S)
        if chart is None:
            raise SystemExit("report.html has no concurrency chart")
        # the report's own style rules for the chart, so the file looks as it does in report.html
        css = (Path(__file__).resolve().parents[1] / "pytest_llmeval" / "report" / "templates" / "report.css")
        rules = "\n".join(line for line in css.read_text(encoding="utf-8").splitlines() if "concurrency-chart" in line or line.startswith("svg ."))
        svg = chart.group(0).replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
        svg = svg.replace(">", f">\n<style>\n{rules}\n</style>", 1)
        args.svg.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{svg}\n', encoding="utf-8")
        print(f"chart: {args.svg}")


if __name__ == "__main__":
    main()
