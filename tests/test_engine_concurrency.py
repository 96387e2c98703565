"""Adaptive concurrency (``--llm-concurrency auto``): the shared record as a unit, and end to end
against loopback servers with a capacity (429 beyond K at once) or a latency that grows with load."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pytest_llmeval.engine.concurrency import START, AdaptiveConcurrency, Ticket, concurrency_record
from pytest_llmeval.engine.shared_state import FileState
from tests.browser import browser, open_report, requires_chromium  # noqa: F401 (browser is a fixture)
from tests.e2e import write_jsonl
from tests.servers.capacity_server import CapacityServer, Served

NAME = concurrency_record("openai|http://127.0.0.1:1/v1")


def _limiter(state: FileState, owner: str, lease_s: float = 30.0) -> AdaptiveConcurrency:
    return AdaptiveConcurrency(state, NAME, lease_s=lease_s, owner=owner)


def _take_all(limiter: AdaptiveConcurrency, n: int) -> list[Ticket]:
    tickets = [limiter.acquire(threading.Event()) for _ in range(n)]
    assert all(t is not None for t in tickets)
    return tickets  # type: ignore[return-value]


def _blocked(limiter: AdaptiveConcurrency, wait_s: float) -> bool:
    """Whether an acquire is still waiting after ``wait_s`` (it is stopped then)."""
    stop, got = threading.Event(), []
    thread = threading.Thread(target=lambda: got.append(limiter.acquire(stop)))
    thread.start()
    thread.join(wait_s)
    stop.set()
    thread.join()
    return got == [None]


def _record(state: FileState) -> dict:
    return json.loads(state.read(NAME) or b"{}")


def test_processes_share_one_limit_and_a_released_slot_is_taken_again(tmp_path: Path) -> None:
    state = FileState(tmp_path)
    a, b = _limiter(state, "host:1"), _limiter(FileState(tmp_path), "host:2")  # two processes, one record
    tickets = _take_all(a, START - 1) + _take_all(b, 1)
    assert _blocked(a, 0.2) and _blocked(b, 0.2)
    stop, got = threading.Event(), []
    waiter = threading.Thread(target=lambda: got.append(b.acquire(stop)))
    waiter.start()
    time.sleep(0.05)
    a.release(tickets[0], None)  # another process's release: the waiter asks again within its poll
    waiter.join(2.0)
    assert got and got[0] is not None and got[0].in_flight == START


def test_a_killed_process_gives_its_slots_back_when_its_lease_expires(tmp_path: Path) -> None:
    dead = _limiter(FileState(tmp_path), "host:dead", lease_s=0.5)
    _take_all(dead, START)  # and never released: the process was killed
    alive = _limiter(FileState(tmp_path), "host:alive")
    assert _blocked(alive, 0.1)
    started = time.monotonic()
    assert alive.acquire(threading.Event()) is not None
    assert 0.2 <= time.monotonic() - started < 2.0
    assert list(_record(FileState(tmp_path))["n"]) == ["host:alive"]


def test_slow_start_then_one_cut_per_window_of_429s(tmp_path: Path) -> None:
    state = FileState(tmp_path)
    limiter = _limiter(state, "host:1")
    for _ in range(3):  # healthy replies with the limit in use: the limit doubles per round
        for ticket in _take_all(limiter, limiter.limit):
            limiter.release(ticket, 0.1)
    assert _record(state)["l"] == START * 8
    burst = _take_all(limiter, 12)  # sent with 1 to 12 in flight; a server of capacity 8 refuses the last 4
    for ticket in burst[8:]:  # 4 requests sent under the same limit refused: one cut, not 4
        limiter.release(ticket, None, overloaded=True)
    for ticket in burst[:8]:  # replies to requests sent before the cut do not grow the limit again
        limiter.release(ticket, 0.1)
    rec = _record(state)
    assert rec["c"] == 1 and rec["over"] == 4
    assert rec["l"] == pytest.approx(9 * 0.85)  # cut at the level the first refused one was sent at
    assert rec["w"] == 9 and rec["n"] == {}


def test_one_slow_reply_is_not_congestion_but_a_sustained_rise_is(tmp_path: Path) -> None:
    state = FileState(tmp_path)
    limiter = _limiter(state, "host:1")
    for latency in [0.1] * 10 + [5.0] + [0.1] * 5:
        (ticket,) = _take_all(limiter, 1)
        limiter.release(ticket, latency)
    assert _record(state)["c"] == 0
    for _ in range(12):
        (ticket,) = _take_all(limiter, 1)
        limiter.release(ticket, 0.5)
    assert _record(state)["c"] == 1  # once the median of the window rose past twice the low-load one


# -- end to end ------------------------------------------------------------------------------------


def _suite(path: Path, n: int) -> None:
    """Two subjects (one per xdist worker), every reply right."""
    rows = [{"id": f"s{i}", "topic": f"t{i % 2}", "question": f"q{i}", "answer": "ok"} for i in range(n)]
    write_jsonl(path / "data" / "qa.jsonl", rows)
    (path / "qa.llmeval.yaml").write_text(
        "name: qa\ntask: exact_match\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n",
        encoding="utf-8")


def _run(pytester: pytest.Pytester, server: CapacityServer, concurrency: str, xdist: list[str],
         report: str) -> tuple[list[Served], float, str]:
    """One run; the server's log of it, its request phase (first arrival to last end), its output."""
    first = len(server.log)
    result = pytester.runpytest_subprocess(
        "--llm-model=m", f"--llm-base-url={server.base_url}", "--llm-cache=off", "--llm-retries=8",
        f"--llm-concurrency={concurrency}", f"--llm-report-dir={report}", "-p", "no:cacheprovider", *xdist)
    assert result.ret == 0, result.stdout.str()[-3000:]
    log = server.log[first:]
    return log, max(s.ended for s in log) - log[0].arrived, result.stdout.str()


def _concurrency_record(pytester: pytest.Pytester, report: str) -> dict:
    document = json.loads((pytester.path / report / "results.json").read_text(encoding="utf-8"))
    (record,) = document["run"]["concurrency"]
    return record


K = 8


@pytest.mark.slow
@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_auto_settles_near_the_servers_capacity_with_few_429s_and_its_throughput(
        pytester: pytest.Pytester, xdist: list[str]) -> None:
    """K = 8 at once, 0.1 s a request; 800 samples take about 15 s, so the last third of the run is
    past the first 10 s. The fixed run uses exactly K in flight (K / 2 per worker with -n 2)."""
    _suite(pytester.path, 800)
    with CapacityServer(capacity=K, latency_s=0.1) as server:
        fixed, fixed_s, _ = _run(pytester, server, str(K // 2 if xdist else K), xdist, "fixed")
        auto, auto_s, _ = _run(pytester, server, "auto", xdist, "auto")
    assert all(s.status == 200 for s in fixed)  # the fixed run never exceeds the capacity
    ok = [s for s in auto if s.status == 200]
    assert len(ok) == 800
    assert len(ok) / auto_s >= 0.9 * (800 / fixed_s), (auto_s, fixed_s)
    start = auto[0].arrived
    late = [s for s in auto if s.arrived - start > 10.0]
    assert len(late) >= 100  # enough of the run is past its first 10 s to count
    refused = sum(s.status == 429 for s in late)
    assert refused <= 0.02 * len(late), (refused, len(late))
    assert max(s.in_server for s in late if s.status == 200) == K  # the server's capacity was in use
    record = _concurrency_record(pytester, "auto")
    settled = [point for point in record["curve"] if point[0] > 10.0]  # [s, limit, in flight] past the first 10 s
    limits, in_flight = sorted(p[1] for p in settled), sorted(p[2] for p in settled)
    assert K - 1 <= limits[len(limits) // 2] <= K + 2, settled  # the limit settled near K ...
    assert K - 2 <= in_flight[len(in_flight) // 2] <= K + 2, settled  # ... and so did the requests in flight
    assert record["max_limit"] <= 2 * K + 2
    assert record["overloaded"] == sum(s.status == 429 for s in auto)  # counted once, run-wide
    assert 20 <= len(record["curve"]) <= 400


@pytest.mark.slow
@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_auto_settles_where_latency_rises_and_never_ramps_to_the_ceiling(
        pytester: pytest.Pytester, xdist: list[str]) -> None:
    """No 429s here: the server only gets slower, twice its base latency at K in flight, five
    times at 2K. Without the latency signal the limit would climb to the ceiling (256)."""
    _suite(pytester.path, 600)
    with CapacityServer(latency_s=0.05, slowdown=K) as server:
        log, _, output = _run(pytester, server, "auto", xdist, "report")
    assert all(s.status == 200 for s in log)
    record = _concurrency_record(pytester, "report")
    assert f"concurrency m: auto, limit {record['final_limit']} at the end (highest {record['max_limit']})" in output
    assert record["cuts"] >= 1 and record["final_limit"] <= 3 * K and record["max_limit"] <= 8 * K
    second_half = sorted(s.in_server for s in log[len(log) // 2:])
    assert K // 2 <= second_half[len(second_half) // 2] <= 3 * K


@pytest.mark.slow
@requires_chromium
def test_report_html_draws_the_in_flight_curve(browser, pytester: pytest.Pytester) -> None:  # noqa: F811
    _suite(pytester.path, 120)
    with CapacityServer(capacity=K, latency_s=0.05) as server:
        _run(pytester, server, "auto", [], "report")
    with open_report(browser, pytester.path / "report" / "report.html") as opened:
        assert opened.count("svg.concurrency-chart") == 1
        for line in ("polyline.limit", "polyline.in-flight"):
            box = opened.page.locator(f"svg.concurrency-chart {line}").bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 10  # drawn, not just present
        assert "requests sent" in opened.page.inner_text("#concurrency")
        opened.assert_clean()


def test_a_profile_asks_for_auto_and_a_number_stays_a_number(tmp_path: Path) -> None:
    from pytest_llmeval.profiles import load_profiles

    path = tmp_path / "llm_models.yaml"
    path.write_text("models:\n  a: {base_url: 'http://127.0.0.1:9/v1', concurrency: auto}\n"
                    "  b: {base_url: 'http://127.0.0.1:9/v1', concurrency: 3}\n", encoding="utf-8")
    profiles, _ = load_profiles([path])
    assert profiles["a"].concurrency == "auto" and profiles["b"].concurrency == 3
