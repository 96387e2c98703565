"""Serving-performance aggregation and latency gates, as pure functions over payloads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.report.latency import latency_lines
from pytest_llmeval.results.aggregate import aggregate
from pytest_llmeval.results.latency_gates import (
    GateError,
    check_gates,
    gate_failures,
    parse_gate_key,
    stream_only,
)
from pytest_llmeval.results.latency import (
    latency_rows,
    measured,
    metric_values,
    percentile,
)
from pytest_llmeval.results.payload import SampleResult
from pytest_llmeval.results.verdict import failures

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=50), st.floats(min_value=0, max_value=100))
def test_percentile_is_numpys_linear_method(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q, method="linear")), rel=1e-9, abs=1e-9)


@given(st.lists(finite, min_size=1, max_size=50), st.floats(min_value=0, max_value=100),
       st.floats(min_value=0, max_value=100))
def test_percentile_is_monotone_and_bounded(values, a, b):
    low, high = sorted((a, b))
    assert min(values) <= percentile(values, low) <= percentile(values, high) <= max(values)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 50)


def _sample(i: int, *, model: str = "m", suite: str = "s", e2e: float | None = 1.0, ttft: float | None = None,
            itl: list[float] | None = None, tokens: int | None = None, sent: float | None = 100.0,
            cached: bool = False, gates: dict[str, float] | None = None) -> SampleResult:
    return SampleResult(model=model, suite=suite, subject="x", id=str(i), version="v", nodeid=f"n{i}",
                        correct=True, cached=cached, e2e_s=None if cached else e2e, ttft_s=ttft, itl_s=itl,
                        streamed=ttft is not None, output_tokens=tokens, sent_at=None if cached else sent,
                        tpot_s=None if ttft is None or not tokens or tokens < 2 else (e2e - ttft) / (tokens - 1),
                        latency_gates=gates or {})


durations = st.floats(min_value=0.001, max_value=10, allow_nan=False)


@given(st.lists(st.tuples(durations, st.floats(min_value=0, max_value=5), st.integers(1, 50), st.booleans()),
                min_size=1, max_size=20))
def test_rows_count_only_measured_samples_and_throughput_follows_the_phase(specs):
    samples = [_sample(i, e2e=e2e, sent=1000 + start, tokens=tokens, cached=cached)
               for i, (e2e, start, tokens, cached) in enumerate(specs)]
    (row,) = latency_rows(samples, ["m"])
    timed = [s for s in samples if not s.cached]
    assert row.n == len(timed) and row.cached == len(samples) - len(timed)
    if not timed:
        assert row.percentiles_ms == {} and row.request_throughput is None
        return
    phase = max(s.sent_at + s.e2e_s for s in timed) - min(s.sent_at for s in timed)
    assert row.duration_s == pytest.approx(phase)
    assert row.request_throughput == pytest.approx(len(timed) / phase)
    assert row.output_throughput == pytest.approx(sum(s.output_tokens for s in timed) / phase)
    assert row.concurrency == pytest.approx(sum(s.e2e_s for s in timed) / phase)
    assert 0 < row.concurrency <= len(timed) + 1e-9  # never more in flight than were sent
    e2e = [s.e2e_s * 1000 for s in timed]
    assert row.percentiles_ms["e2e"]["p90"] == pytest.approx(float(np.percentile(e2e, 90)))
    assert "ttft" not in row.percentiles_ms  # nothing streamed: E2E alone


def test_itl_pools_every_gap_and_ttft_needs_a_stream():
    samples = [_sample(0, e2e=1.0, ttft=0.2, itl=[0.1, 0.1, 0.5], tokens=4),
               _sample(1, e2e=0.5, ttft=0.3, itl=[0.2], tokens=2), _sample(2, e2e=0.7)]
    assert metric_values(samples, "itl") == [0.1, 0.1, 0.5, 0.2]
    assert metric_values(samples, "ttft") == [0.2, 0.3]
    (row,) = latency_rows(samples, ["m"])
    assert row.streamed == 2 and row.percentiles_ms["itl"]["p50"] == pytest.approx(150.0)
    assert row.percentiles_ms["tpot"]["p50"] == pytest.approx(((1.0 - 0.2) / 3 + 0.2) / 2 * 1000)
    record = row.to_record()
    assert record["ttft_p99_ms"] == pytest.approx(299.0) and record["cached_excluded"] == 0


def test_errors_refusals_and_cache_hits_are_not_measured():
    errored = _sample(1)
    errored.error, errored.correct = "boom", None
    refused = _sample(2)
    refused.rejected = "filter"
    assert measured([_sample(0), errored, refused, _sample(3, cached=True)]) == [_sample(0)]


def test_terminal_block_says_what_was_left_out():
    rows = latency_rows([_sample(0, e2e=0.5, ttft=0.1, itl=[0.05], tokens=2), _sample(1, cached=True),
                         _sample(2, model="other", cached=True)], ["m", "other"])
    text = "\n".join(latency_lines(rows))
    assert "latency m (1 measured from when each request was sent; 1 answered from the cache, excluded)" in text
    assert "TTFT" in text and "latency other: nothing measured; 1 answered from the cache, excluded" in text


@pytest.mark.parametrize("key, parsed", [("ttft_p95_ms", ("ttft", 95.0)), ("e2e_p99.9_ms", ("e2e", 99.9)),
                                         ("itl_p50_ms", ("itl", 50.0)), ("tpot_p0_ms", ("tpot", 0.0))])
def test_gate_keys(key, parsed):
    assert parse_gate_key(key) == parsed


@pytest.mark.parametrize("gates, key", [({"ttft_95_ms": 1}, "ttft_95_ms"), ({"ttft_p101_ms": 1}, "ttft_p101_ms"),
                                        ({"e2e_p99_ms": 0}, "e2e_p99_ms"), ({"e2e_p99_ms": "fast"}, "e2e_p99_ms"),
                                        ({"e2e_p99_ms": True}, "e2e_p99_ms"), ({"latency_p9_ms": 1}, "latency_p9_ms")])
def test_bad_gates_name_their_key(gates, key):
    with pytest.raises(GateError) as info:
        check_gates(gates)
    assert info.value.key == key and "\n" not in str(info.value)


def test_stream_only_gates():
    assert stream_only(["e2e_p99_ms", "ttft_p95_ms", "itl_p50_ms"]) == ["ttft_p95_ms", "itl_p50_ms"]


def test_gates_pass_fail_and_refuse_to_pass_unmeasured():
    gated = {"ttft_p50_ms": 250, "e2e_p90_ms": 2000}
    ok = [_sample(i, e2e=1.0, ttft=0.2, tokens=3, gates=gated) for i in range(4)]
    assert gate_failures(ok) == []
    slow = [_sample(i, e2e=1.0, ttft=0.3, tokens=3, gates=gated) for i in range(4)]
    assert gate_failures(slow) == ["latency gate not met: m s ttft p50 300.0 ms > 250 ms (n=4)"]
    from_cache = [_sample(i, cached=True, gates=gated) for i in range(2)]
    lines = gate_failures(from_cache)
    assert len(lines) == 2 and all("nothing measured (all 2 answers came from the cache" in line for line in lines)
    run = gate_failures(ok, {"e2e_p50_ms": 900})
    assert run == ["latency gate not met: m (--llm-latency) e2e p50 1000.0 ms > 900 ms (n=4)"]


def test_the_strictest_gate_of_a_suite_applies_and_failures_reach_the_verdict():
    samples = [_sample(0, e2e=1.0, gates={"e2e_p50_ms": 5000}), _sample(1, e2e=1.0, gates={"e2e_p50_ms": 500})]
    summary = aggregate(samples, ["m"])
    assert summary.latency_failures == ["latency gate not met: m s e2e p50 1000.0 ms > 500 ms (n=2)"]
    assert summary.latency_failures[0] in failures(summary)
    assert failures(aggregate(samples, ["m"], latency_gates={"e2e_p99_ms": 5000})) == summary.latency_failures
