"""Serving performance end to end: ``--llm-stream`` timings against a server with known token
delays, the summary block and results.json rows, and latency gates deciding the exit status."""

from __future__ import annotations

import re

import pytest

from tests.e2e import XDIST_MODES, read_results, read_samples, write_jsonl
from tests.servers.fault_server import FaultServer

FIRST_S, GAP_S, WORDS = 0.3, 0.1, 4  # injected: first token after 0.3 s, then one every 0.1 s
ROWS = [{"id": f"s{i}", "topic": "math" if i % 2 else "facts", "question": f"question {i}", "answer": f"w{i} x y z"}
        for i in range(8)]
REPLIES = {row["question"]: row["answer"] for row in ROWS}


def _suite(pytester: pytest.Pytester, extra: str = "") -> None:
    write_jsonl(pytester.path / "data" / "qa.jsonl", ROWS)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\n"
        "prompt: '{question}'\nthreshold: 0.9\n" + extra))


def _run(pytester: pytest.Pytester, server: FaultServer, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-report-dir=out", "-p", "no:cacheprovider",
        "--llm-retries=0", "--llm-concurrency=4", *args)


def _within(measured: float, injected: float, tolerance: float = 0.10) -> bool:
    return abs(measured - injected) <= tolerance * injected


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_streamed_timings_match_the_injected_delays(pytester, xdist):
    _suite(pytester)
    with FaultServer(replies=REPLIES, first_token_s=FIRST_S, token_gap_s=GAP_S) as server:
        result = _run(pytester, server, "--llm-stream", "--llm-cache=off", *xdist)
    result.assert_outcomes(passed=8)
    samples = read_samples(pytester.path / "out")
    e2e = FIRST_S + (WORDS - 1) * GAP_S
    for s in samples:
        assert s["streamed"] and s["output_tokens"] == WORDS  # from the stream's usage chunk
        # one sample's first token: never before the injected delay, and under half a gap after it (later, and
        # the clock would be timing another event, such as the second token); the median is held to 10% below
        assert 0.9 * FIRST_S <= s["ttft_s"] < FIRST_S + GAP_S / 2, s
        # each gap is one sleep on a loaded machine: their mean per sample, and their median overall, are checked
        assert len(s["itl_s"]) == WORDS - 1 and _within(sum(s["itl_s"]) / len(s["itl_s"]), GAP_S), s
        assert _within(s["e2e_s"], e2e), s
        assert _within(s["tpot_s"], GAP_S), s
        assert s["ttft_s"] < s["e2e_s"]
    (row,) = read_results(pytester.path / "out")["latency"]
    assert row["model"] == "m" and row["n"] == 8 and row["streamed"] == 8 and row["output_tokens"] == 8 * WORDS
    assert _within(row["ttft_p50_ms"], FIRST_S * 1000) and _within(row["itl_p50_ms"], GAP_S * 1000)
    assert _within(row["e2e_p90_ms"], e2e * 1000) and _within(row["tpot_p50_ms"], GAP_S * 1000)
    assert 0 < row["concurrency"] <= 4.01 and row["request_throughput"] > 0
    result.stdout.fnmatch_lines(["latency m (8 measured from when each request was sent): * req/s, *",
                                 "  TTFT  *", "  TPOT  *", "  ITL  *", "  E2E  *"])


def test_without_streaming_only_end_to_end_latency_is_reported(pytester):
    _suite(pytester)
    with FaultServer(replies=REPLIES, delay_s=0.2) as server:
        result = _run(pytester, server, "--llm-cache=off")
    result.assert_outcomes(passed=8)
    for s in read_samples(pytester.path / "out"):
        assert not s["streamed"] and s["ttft_s"] is None and s["tpot_s"] is None and s["itl_s"] is None
        assert 0.2 <= s["e2e_s"] < 0.35  # the whole SDK call: connecting and parsing count here
    (row,) = read_results(pytester.path / "out")["latency"]
    assert row["ttft_p50_ms"] is None and row["itl_p50_ms"] is None and row["e2e_p50_ms"] > 150
    result.stdout.fnmatch_lines(["  TTFT, TPOT, ITL: not streamed (--llm-stream measures them)"])
    assert "  TTFT  " not in result.stdout.str()


def test_a_stream_without_usage_counts_its_chunks(pytester):
    _suite(pytester)
    with FaultServer(replies=REPLIES, reject_stream_options=True, token_gap_s=0.01) as server:
        result = _run(pytester, server, "--llm-stream", "--llm-cache=off")
    result.assert_outcomes(passed=8)
    # the completion's usage is then estimated from the chunks too, and marked so
    assert all(s["output_tokens"] == WORDS and s["completion_tokens"] == WORDS and s["tokens_estimated"]
               for s in read_samples(pytester.path / "out"))


def test_a_streamed_run_times_every_sample_anew_by_default(pytester):
    _suite(pytester, "latency: {e2e_p99_ms: 5000}\n")
    with FaultServer(replies=REPLIES, token_gap_s=0.01) as server:
        assert _run(pytester, server, "--llm-stream").ret == 0
        again = _run(pytester, server, "--llm-stream")  # the cache is recorded, not read
        asked = len(server.log)
    assert again.ret == 0 and asked == 16
    again.stdout.fnmatch_lines(["m: 8 samples, 8 requests, 0 retries, 0 from cache*"])


def test_answers_from_the_cache_are_left_out_of_latency(pytester):
    _suite(pytester, "latency: {e2e_p99_ms: 5000}\n")
    with FaultServer(replies=REPLIES, token_gap_s=0.01) as server:
        assert _run(pytester, server, "--llm-stream").ret == 0
        again = _run(pytester, server, "--llm-stream", "--llm-cache=on")
    again.stdout.fnmatch_lines([("latency gate not met: m qa e2e_p99_ms 5000: nothing measured (all 8 answers "
                                 "came from the cache; use --llm-cache=refresh or off)"),
                                "latency m: nothing measured; 8 answered from the cache, excluded"])
    assert again.ret == 1
    (row,) = read_results(pytester.path / "out")["latency"]
    assert row["n"] == 0 and row["cached_excluded"] == 8 and row["e2e_p50_ms"] is None


@pytest.mark.parametrize("xdist", [*XDIST_MODES, pytest.param(["-n", "2", "-p", "no:terminal"], id="n2-no-terminal")])
@pytest.mark.parametrize("limit, passes", [(2000, True), (100, False)])
def test_suite_latency_gates_decide_the_exit_status(pytester, xdist, limit, passes):
    _suite(pytester, f"latency: {{ttft_p90_ms: {limit}, e2e_p99_ms: 5000}}\n")
    with FaultServer(replies=REPLIES, first_token_s=0.2, token_gap_s=0.01) as server:
        result = _run(pytester, server, "--llm-stream", "--llm-cache=off", *xdist)
    assert result.ret == (0 if passes else 1)
    if not passes and "no:terminal" not in xdist:
        assert _gate_ms(result, "m qa ttft p90", "100 ms (n=8)") >= 200  # the server's first-token delay


def _gate_ms(result, gate: str, limit: str) -> float:
    """The measured value in the unmet gate's line. Only a lower bound is known: a loaded
    machine adds to every latency, so the line is matched whatever the value is."""
    pattern = rf"latency gate not met: {re.escape(gate)} (\d+\.\d) ms > {re.escape(limit)}"
    found = [m for m in map(re.compile(pattern).fullmatch, result.outlines) if m]
    assert found, f"no line matches {pattern!r}"
    return float(found[0].group(1))


def test_command_line_gate_applies_to_every_model(pytester):
    _suite(pytester)
    with FaultServer(replies=REPLIES, delay_s=0.15) as server:
        result = _run(pytester, server, "--llm-cache=off", "--llm-latency=e2e_p50_ms=50")
    assert result.ret == 1
    assert _gate_ms(result, "m (--llm-latency) e2e p50", "50 ms (n=8)") >= 150  # the server's delay


def test_streamed_gates_without_streaming_are_one_line_errors(pytester):
    _suite(pytester, "latency: {ttft_p95_ms: 500}\n")
    with FaultServer(replies=REPLIES) as server:
        collected = _run(pytester, server)
        assert collected.ret == 2
        collected.stdout.fnmatch_lines([("*qa.llmeval.yaml: latency.ttft_p95_ms: ttft gates need --llm-stream "
                                         "(model m does not stream)*")])
        usage = _run(pytester, server, "--llm-latency=itl_p50_ms=20", "-k", "nothing")
    assert usage.ret == 4
    usage.stderr.fnmatch_lines(["ERROR: --llm-latency itl_p50_ms: itl gates need --llm-stream (model m does not stream)"])


def test_a_bad_gate_key_names_itself(pytester):
    _suite(pytester, "latency: {ttft_p95: 500}\n")
    with FaultServer(replies=REPLIES) as server:
        result = _run(pytester, server, "--llm-stream")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*qa.llmeval.yaml*latency.ttft_p95: expected <metric>_p<percentile>_ms*"])


MARKED = """
import pytest
import pytest_llmeval as llmeval

@pytest.mark.llm_latency({gate})
@llmeval.dataset("qa.jsonl", subject="qa")
def test_answer(llm, sample):
    assert llm.generate(sample["question"]) == sample["answer"]
"""


@pytest.mark.parametrize("xdist", XDIST_MODES)
@pytest.mark.parametrize("gate, passes", [("ttft_p50_ms=1000, e2e_p50_ms=3000", True), ("e2e_p50_ms=100", False)])
def test_marker_gates_a_python_test(pytester, xdist, gate, passes):
    write_jsonl(pytester.path / "qa.jsonl", ROWS)
    pytester.makepyfile(test_marked=MARKED.format(gate=gate))
    with FaultServer(replies=REPLIES, first_token_s=0.2, token_gap_s=0.01) as server:
        result = _run(pytester, server, "--llm-stream", "--llm-cache=off", *xdist)
    result.assert_outcomes(passed=8)
    assert result.ret == (0 if passes else 1)
    if not passes:
        assert _gate_ms(result, "m test_marked e2e p50", "100 ms (n=8)") >= 200  # the server's first-token delay
    assert all(s["streamed"] and s["ttft_s"] for s in read_samples(pytester.path / "out"))


def test_marker_ttft_gate_without_streaming_fails_collection(pytester):
    write_jsonl(pytester.path / "qa.jsonl", ROWS)
    pytester.makepyfile(test_marked=MARKED.format(gate="ttft_p95_ms=500"))
    with FaultServer(replies=REPLIES) as server:
        result = _run(pytester, server)
    assert result.ret == 2
    result.stdout.fnmatch_lines([("*test_marked.py::test_answer: llm_latency.ttft_p95_ms: ttft gates need "
                                  "--llm-stream (model m does not stream)*")])


@pytest.mark.parametrize("preset, stream_path", [("tgi", "/generate_stream"), ("triton", "/v2/models/quiz/generate_stream"),
                                                 ("mindie", "/infer")])
def test_llm_stream_switches_http_presets_to_streaming(pytester, native_server_factory, preset, stream_path):
    from tests.e2e import mc_replies, write_mc_suite

    write_mc_suite(pytester)
    server = native_server_factory(preset, mc_replies(), "no idea")
    pytester.makefile(".yaml", llm_models=f"models:\n  quiz:\n    backend: http\n    base_url: {server.base_url}\n"
                                          f"    options: {{preset: {preset}}}\n")
    result = pytester.runpytest("--llm-model=quiz", "--llm-stream", "--llm-retries=0", "--llm-cache=off",
                                "--llm-report-dir=out")
    assert result.ret == 0
    assert {r.path for r in server.requests} == {stream_path}
    if preset == "mindie":
        assert all(r.body.get("stream") is True for r in server.requests)
    samples = read_samples(pytester.path / "out")
    assert all(s["streamed"] and s["ttft_s"] is not None and s["ttft_s"] <= s["e2e_s"] for s in samples), samples


def test_the_real_llama_cpp_server_streams(pytester, llama_server_url):
    write_jsonl(pytester.path / "data" / "qa.jsonl", ROWS[:3])
    _suite(pytester)
    common = ["--llm-model=auto", f"--llm-base-url={llama_server_url}", "--llm-max-tokens=12", "--llm-cache=off",
              "--llm-retries=0", "--llm-timeout=120", "--llm-concurrency=1", "-p", "no:cacheprovider"]
    streamed = pytester.runpytest_subprocess(*common, "--llm-stream", "--llm-report-dir=streamed")
    plain = pytester.runpytest_subprocess(*common, "--llm-report-dir=plain")
    assert streamed.ret in (0, 1) and plain.ret in (0, 1)  # the 135M model's answers do not matter here
    for s in read_samples(pytester.path / "streamed"):
        assert s["error"] is None and s["streamed"]
        assert 0 < s["ttft_s"] < s["e2e_s"] and s["output_tokens"] >= 1 and s["reply"]
        assert len(s["itl_s"]) >= 1 and s["tpot_s"] is not None
    for s in read_samples(pytester.path / "plain"):
        assert s["error"] is None and not s["streamed"] and s["ttft_s"] is None and s["e2e_s"] > 0
    rows = read_results(pytester.path / "streamed")["latency"]
    assert rows[0]["ttft_p50_ms"] < rows[0]["e2e_p50_ms"]
    assert read_results(pytester.path / "plain")["latency"][0]["ttft_p50_ms"] is None


def test_a_profile_can_stream_without_the_option(pytester):
    _suite(pytester, "latency: {itl_p50_ms: 1000}\n")
    with FaultServer(replies=REPLIES, token_gap_s=0.02) as server:
        pytester.makefile(".yaml", llm_models=f"models:\n  fast:\n    model: m\n    base_url: {server.base_url}\n"
                                              "    stream: true\n")
        result = pytester.runpytest_subprocess("--llm-model=fast", "--llm-cache=off", "--llm-report-dir=out",
                                               "-p", "no:cacheprovider")
    assert result.ret == 0
    assert all(s["streamed"] and len(s["itl_s"]) == WORDS - 1 for s in read_samples(pytester.path / "out"))
    assert read_results(pytester.path / "out")["run"]["models"][0]["stream"] is True
