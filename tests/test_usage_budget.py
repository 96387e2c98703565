"""Token usage, cost from profile prices, and token and cost budgets, end to end against the
scripted loopback server (which sends ``usage`` or not, and logs what it said each reply used)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import Backend, BackendSettings, GenerateRequest, Reply
from pytest_llmeval.engine.budget import Reservation, SharedBudget, budget_record
from pytest_llmeval.engine.dispatch import Dispatcher
from pytest_llmeval.engine.retry import RetryPolicy
from pytest_llmeval.engine.shared_state import FileState
from tests.e2e import read_results, read_samples, sample_outcomes, write_jsonl
from tests.servers.fault_server import FaultServer

N = 16
XDIST = [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")]
PRICED = ("models:\n  m:\n    model: m\n    base_url: {url}\n"
          "    price: {{input_per_mtok: 0.15, output_per_mtok: 0.60, currency: USD}}\n{extra}")


def _suite(pytester: pytest.Pytester, n: int = N) -> None:
    rows = [{"id": f"s{i:02d}", "topic": f"t{i % 2}", "question": f"question {i:02d}", "answer": "ok"} for i in range(n)]
    write_jsonl(pytester.path / "data" / "qa.jsonl", rows)
    pytester.makefile(".llmeval.yaml", qa=(
        "name: qa\ntask: exact_match\nthreshold: 0.5\n"
        "data: {format: jsonl, path: data/qa.jsonl, fields: {subject: topic, target: answer}}\nprompt: '{question}'\n"))


def _profile(pytester: pytest.Pytester, server: FaultServer, extra: str = "") -> None:
    pytester.makefile(".yaml", llm_models=PRICED.format(url=server.base_url, extra=extra))


def _run(pytester: pytest.Pytester, *args: str, out: str = "out") -> pytest.RunResult:
    return pytester.runpytest_subprocess("--llm-model=m", "--llm-cache=journal.sqlite3", f"--llm-report-dir={out}",
                                         "--llm-max-tokens=5", "-p", "no:cacheprovider", *args)


def _sent(server: FaultServer) -> tuple[int, int]:
    """The prompt and completion tokens the server said its replies used."""
    used = [e.usage for e in server.log if e.usage is not None]
    return sum(u[0] for u in used), sum(u[1] for u in used)


@pytest.mark.parametrize("xdist", XDIST)
def test_usage_is_the_servers_summed_and_priced_in_every_report(pytester, xdist):
    _suite(pytester)
    with FaultServer(usage=(7, 2)) as server:
        _profile(pytester, server)
        result = _run(pytester, *xdist)
        prompt, completion = _sent(server)
        rerun = _run(pytester, *xdist, out="again")  # resumed: everything from the journal, nothing spent now
        asked_again = len(server.log) - N
    assert result.ret == 0, result.stdout.str()
    assert (prompt, completion) == (7 * N, 2 * N)
    cost = (prompt * 0.15 + completion * 0.60) / 1e6
    (usage,) = read_results(pytester.path / "out")["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["estimated"]) == (prompt, completion, 0)
    assert usage["sent"]["prompt_tokens"] == prompt and usage["journal"]["prompt_tokens"] == 0
    assert usage["cost"] == pytest.approx(cost) and usage["currency"] == "USD"
    result.stdout.fnmatch_lines([f"usage m: {prompt} prompt + {completion} completion tokens, {cost:.6f} USD"])
    rows = list(csv.DictReader((pytester.path / "out" / "results.csv").open(encoding="utf-8")))
    (model,) = [r for r in rows if r["kind"] == "model"]
    assert (int(model["prompt_tokens"]), float(model["cost"]), model["currency"]) == (prompt, pytest.approx(cost), "USD")
    html = (pytester.path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="usage-table"' in html and f"{cost:.6f} USD" in html

    assert rerun.ret == 0 and asked_again == 0
    (usage,) = read_results(pytester.path / "again")["usage"]
    assert usage["prompt_tokens"] == prompt and usage["sent"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    assert usage["journal"] == {"prompt_tokens": prompt, "completion_tokens": completion}


@pytest.mark.parametrize("xdist", XDIST)
def test_a_server_without_usage_is_estimated_and_marked(pytester, xdist):
    _suite(pytester)
    with FaultServer(usage=None, default_reply="ok") as server:
        _profile(pytester, server)
        result = _run(pytester, *xdist)
    assert result.ret == 0 and len(server.log) == N
    (usage,) = read_results(pytester.path / "out")["usage"]
    # "question NN" is 11 characters: 11 // 4 + 1 = 3 tokens; the reply "ok" (2 characters) 1
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["estimated"]) == (3 * N, N, N)
    assert all(s["tokens_estimated"] for s in read_samples(pytester.path / "out"))
    result.stdout.fnmatch_lines([f"usage m: ~{3 * N} prompt + ~{N} completion tokens, *USD"
                                 f" (~ estimated: {N} of {N} replies came without usage)"])


@pytest.mark.parametrize("xdist", XDIST)
def test_a_token_budget_stops_sending_and_a_larger_one_continues_from_the_journal(pytester, xdist):
    _suite(pytester)
    budget = 40  # each request reserves 3 + 5 (max_tokens) and uses 3 + 1
    with FaultServer(usage=(3, 1), delay_s=0.05) as server:
        _profile(pytester, server)
        result = _run(pytester, f"--llm-budget-tokens={budget}", *xdist)
        first = len(server.log)
        spent = sum(_sent(server))
        rerun = _run(pytester, "--llm-budget-tokens=1000", *xdist, out="again")
        prompts = [e.prompt for e in server.log]
    assert result.ret == 1
    assert spent <= budget and first >= budget // 8  # within the budget, and it was used
    outcomes = sample_outcomes(result)
    assert outcomes.get("skipped") == N - first and outcomes.get("passed") == first
    assert "missed" not in outcomes and "error" not in outcomes
    result.stdout.fnmatch_lines([f"the run's budget of {budget} tokens was reached after this run sent {spent} tokens, "
                                 f"* USD: {N - first} samples not asked, * incomplete *"])
    assert "incomplete: " not in result.stdout.str()  # one line for the budget, not one more per subject
    document = read_results(pytester.path / "out")
    assert all(row["incomplete"] and not row["passed"] for row in document["subjects"])
    assert not document["verdict"]["passed"]

    assert rerun.ret == 0, rerun.stdout.str()
    # only the samples not asked before were sent; the journal's answers cost nothing
    assert sorted(prompts) == [f"question {i:02d}" for i in range(N)]


def test_a_shard_without_a_coordination_server_keeps_its_share_of_the_budget_and_says_so(pytester):
    _suite(pytester, 32)  # shard 1/2: 16 samples, more than its share of the budget buys
    with FaultServer(usage=(3, 1)) as server:
        _profile(pytester, server)
        result = _run(pytester, "--llm-budget-tokens=40", "--llm-shard=1/2")
        spent = sum(_sent(server))
    assert result.ret == 1
    assert 14 <= spent <= 20  # half of 40: the other shard, which this one cannot see, has the other half
    result.stdout.fnmatch_lines([
        "*--llm-shard 1/2 without --llm-coordination: this shard kept 1/2 of each rate limit and budget "
        "(the run's budget: 20 of 40 tokens)*",
        "*this shard's 1/2 of the run's budget of 20 tokens was reached after this run sent * tokens*"])


def test_a_profile_cost_budget_is_shared_by_the_processes_of_the_run(pytester):
    _suite(pytester, 24)
    # 1 currency unit a token: each request reserves 3 + 5 and costs 4; the budget buys 10 replies
    with FaultServer(usage=(3, 1), delay_s=0.05) as server:
        pytester.makefile(".yaml", llm_models=(
            f"models:\n  m:\n    model: m\n    base_url: {server.base_url}\n"
            "    price: {input_per_mtok: 1000000, output_per_mtok: 1000000, currency: EUR}\n"
            "    budget: {cost: 40}\n"))
        result = _run(pytester, "-n", "2", "--llm-concurrency=4")
        spent = sum(_sent(server))
    assert result.ret == 1 and spent <= 40 and len(server.log) >= 5
    result.stdout.fnmatch_lines(["model m's budget of 40 EUR was reached after this run sent *: * samples not asked, * incomplete *"])


def test_budgets_counted_by_two_stores_never_admit_past_the_limit(tmp_path: Path):
    """Two processes in effect (each its own FileState on one folder), eight threads each."""
    budgets = [SharedBudget(FileState(tmp_path), budget_record("run"), tokens=100) for _ in range(2)]
    admitted: list[Reservation] = []
    lock = threading.Lock()

    def ask(budget: SharedBudget) -> None:
        for _ in range(20):
            got = budget.reserve(3, 5, force=True)
            if isinstance(got, Reservation):
                with lock:
                    admitted.append(got)
                budget.settle(got, 3, 1)

    threads = [threading.Thread(target=ask, args=(b,)) for b in budgets for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert budgets[0].spent().tokens == 4 * len(admitted) <= 100
    assert len(admitted) >= (100 - 8 * 16) // 4  # forced closing counts others' reservations held
    assert budgets[1].reserve(1, 0) == budgets[0].reason("tokens")  # closed for everyone


@pytest.mark.parametrize(("profile", "expected"), [
    ("    price: {input_per_mtok: 0.15, output_per_mtok: -1, currency: USD}\n",
     "*llm_models.yaml:5*price.output_per_mtok*expected a number >= 0, got -1*"),
    ("    price: {input_per_mtok: 0.15, output_per_mtok: 0.6, currency: dollars}\n",
     "*llm_models.yaml:5*price.currency*three capital letters*"),
    ("    budget: {cost: 5}\n", "*llm_models.yaml:5*budget*needs the model's price*"),
    ("    price: {input_per_mtok: 0.15, output_per_mtok: 0.6, currency: USD}\n    budget: {tokens: 0}\n",
     "*llm_models.yaml:6*budget.tokens*expected*got 0*"),
])
def test_bad_prices_and_budgets_are_one_line(pytester, profile, expected):
    _suite(pytester, 2)
    pytester.makefile(".yaml", llm_models=f"models:\n  m:\n    model: m\n    base_url: http://127.0.0.1:9/v1\n{profile}")
    result = pytester.runpytest_subprocess("--llm-model=m", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(("args", "expected"), [
    (["--llm-budget-tokens=0"], "*--llm-budget-tokens: expected*got 0*"),
    (["--llm-budget-cost=1"], "*--llm-budget-cost: model m has no price*"),
])
def test_bad_budget_options_are_one_line(pytester, args, expected):
    _suite(pytester, 2)
    pytester.makefile(".yaml", llm_models="models:\n  m:\n    model: m\n    base_url: http://127.0.0.1:9/v1\n")
    result = pytester.runpytest_subprocess("--llm-model=m", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


class _LocalCounter(Backend):
    """A local backend (batched by the engine) that counts what it was asked: 3 + 1 tokens each."""

    local = True
    asked: list[str] = []

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)

    def generate(self, request: GenerateRequest) -> Reply:
        type(self).asked.append(request.messages[-1]["content"])
        return Reply(text="ok", prompt_tokens=3, completion_tokens=1)


def test_a_local_models_batches_stop_at_the_budget_without_waiting_on_themselves(tmp_path: Path):
    _LocalCounter.asked = []
    settings = BackendSettings(backend="local-counter", model="m", max_tokens=5)
    budget = SharedBudget(FileState(tmp_path), budget_record("run"), tokens=60)
    dispatcher = Dispatcher("m", settings, lambda: _LocalCounter(settings), lambda: _LocalCounter, store=None,
                            limiter=None, policy=RetryPolicy(retries=0), concurrency=1, batch_size=8,
                            on_fatal=lambda _: None, budgets=[budget])
    requests = [GenerateRequest(messages=({"role": "user", "content": f"question {i:02d}"},), max_tokens=5,
                                temperature=0.0)
                for i in range(30)]
    outcomes = [f.result(timeout=30) for f in [dispatcher.submit(r) for r in requests]]
    dispatcher.close()
    answered = [o for o in outcomes if o.reply is not None]
    refused = [o for o in outcomes if o.not_asked is not None]
    assert len(answered) == len(_LocalCounter.asked) and len(answered) + len(refused) == 30
    assert budget.spent().tokens == 4 * len(answered) <= 60 and len(answered) >= (60 - 8) // 4
    assert all(o.not_asked is not None and not o.not_asked.complete for o in refused)
