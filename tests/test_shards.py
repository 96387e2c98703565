"""``--llm-shard I/N`` and ``pytest-llmeval merge``: shards merged give exactly what one run gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmeval.shard import assign
from tests.e2e import GEN_N, gen_replies, read_results, read_samples, sample_outcomes, write_gen_suite

# Compared between one run and merged shards: everything but the timing of the run itself.
DECIDED = ("subjects", "groups", "verdict", "baseline", "comparisons", "regressions", "flips", "pass_at_k")


@given(st.lists(st.text(min_size=1, max_size=8), max_size=60, unique=True), st.integers(1, 7), st.randoms())
def test_every_sample_has_one_shard_and_shares_are_even(ids: list[str], total: int, rnd: Any) -> None:
    shards = assign("suite", "subject", ids, total)
    shuffled = list(ids)
    rnd.shuffle(shuffled)
    assert assign("suite", "subject", shuffled, total) == shards  # not the order given
    assert set(shards) == set(ids) and all(0 <= s < total for s in shards.values())
    sizes = [list(shards.values()).count(s) for s in range(total)]
    assert max(sizes) - min(sizes) <= 1


def test_small_subjects_do_not_all_land_in_the_first_shard() -> None:
    firsts = [min(assign("suite", f"subject{i}", ["only"], 4).values()) for i in range(40)]
    assert len(set(firsts)) == 4


def merge(pytester: pytest.Pytester, *args: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m pytest_llmeval merge``, or (``script``) the installed ``pytest-llmeval`` command."""
    command = [str(Path(sys.executable).with_name("pytest-llmeval"))] if script else [sys.executable, "-m", "pytest_llmeval"]
    return subprocess.run([*command, "merge", *args], cwd=pytester.path,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def run(pytester: pytest.Pytester, server: Any, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--llm-model=ckpt", f"--llm-base-url={server.base_url}", "--llm-retries=0",
                              "--llm-cache=off", *args)


def summary_lines(text: str) -> list[str]:
    """The summary block: from the ``llmeval summary`` rule to the per-model request line (a run's
    own) or the latency block (measured anew by each run, so not compared)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "llmeval summary" in line) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(("ckpt: ", "alt: ", "usage ", "latency "))),
               len(lines))
    return lines[start:end]


@pytest.fixture
def changed(pytester: pytest.Pytester, fake_openai_factory: Any) -> Any:
    """A baseline accepted from one model, and a server for a changed one that regresses on alg."""
    write_gen_suite(pytester)
    before = fake_openai_factory(replies=gen_replies({"alg0", "bio0"}), default_reply="?")
    assert run(pytester, before, "--llm-update-baseline", "--llm-baseline=baseline.json").ret == 0
    return fake_openai_factory(replies=gen_replies({f"alg{i}" for i in range(1, 12)} | {"bio3"}), default_reply="?")


@pytest.mark.parametrize("extra_models", [[], ["--llm-model=alt", "--llm-latency=e2e_p50_ms=60000"]],
                         ids=["one-model", "two-models-latency-gate"])
def test_merged_shards_give_exactly_one_runs_summary_and_verdict(pytester: pytest.Pytester, changed: Any,
                                                                 extra_models: list[str]) -> None:
    whole = run(pytester, changed, "--llm-baseline=baseline.json", "--llm-report-dir=whole", *extra_models)
    assert whole.ret == 1
    counts = []
    for index, extra in ((1, []), (2, ["-n", "2"]), (3, [])):
        shard = run(pytester, changed, "--llm-baseline=baseline.json", f"--llm-report-dir=shard{index}",
                    f"--llm-shard={index}/3", *extra, *extra_models)
        counts.append(sample_outcomes(shard).get("passed", 0) + sample_outcomes(shard).get("missed", 0))
        if not extra:  # under xdist the workers deselect, and the controller's line does not say it
            assert sample_outcomes(shard)["deselected"] == 2 * GEN_N * (1 + len(extra_models) // 2) - counts[-1]
    models = 1 + len(extra_models) // 2
    assert sum(counts) == 2 * GEN_N * models and max(counts) - min(counts) <= 2 * models  # even per subject

    merged = merge(pytester, "shard3", "shard1", "shard2", "--out", "merged")
    assert merged.returncode == whole.ret, merged.stdout + merged.stderr
    assert summary_lines(merged.stdout) == summary_lines(whole.stdout.str())
    usage = [line for line in merged.stdout.splitlines() if line.startswith("usage ")]  # the shards' tokens summed
    assert usage and usage == [line for line in whole.stdout.lines if line.startswith("usage ")]
    latency = [line.split(" (")[0] for line in merged.stdout.splitlines() if line.startswith("latency ")]
    assert latency == [line.split(" (")[0] for line in whole.stdout.lines if line.startswith("latency ")]
    one, many = read_results(pytester.path / "whole"), read_results(pytester.path / "merged")
    for key in DECIDED:
        assert many[key] == one[key], key
    assert many["run"]["shards"] == ["1/3", "2/3", "3/3"]
    assert many["regressions"] and many["flips"]
    def outcomes(folder: str) -> list[tuple[str, str, bool]]:
        return sorted((s["subject"], s["id"], s["correct"]) for s in read_samples(pytester.path / folder))

    assert outcomes("merged") == outcomes("whole") and len(outcomes("whole")) == 2 * GEN_N * models
    for name in ("report.html", "junit.xml", "results.csv"):
        assert (pytester.path / "merged" / name).is_file()
    assert (pytester.path / "merged" / "results.csv").read_text() == (pytester.path / "whole" / "results.csv").read_text()


def test_merge_accepts_the_baseline_once(pytester: pytest.Pytester, changed: Any) -> None:
    for index in (1, 2):
        run(pytester, changed, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/2")
    merged = merge(pytester, "shard1", "shard2", "--out", "merged", "--baseline", "accepted.json", "--update-baseline",
                   script=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    accepted = json.loads((pytester.path / "accepted.json").read_text(encoding="utf-8"))
    assert accepted["models"]["ckpt"]["gen"]["subjects"]["alg"]["n"] == GEN_N
    again = run(pytester, changed, "--llm-baseline=accepted.json")
    assert again.ret == 0
    again.stdout.fnmatch_lines(["*3 compared, 0 regressed*"])


def test_merge_refuses_folders_that_are_not_one_runs_shards(pytester: pytest.Pytester, changed: Any) -> None:
    for index in (1, 2, 3):
        run(pytester, changed, f"--llm-report-dir=shard{index}", f"--llm-shard={index}/3")
    run(pytester, changed, "--llm-report-dir=other", "--llm-shard=1/2")
    run(pytester, changed, "--llm-report-dir=strict", "--llm-shard=2/3", "--llm-gate=ci-low")
    cases = {
        ("shard1", "shard2"): "missing shard 3/3 (merge every shard, or pass --allow-partial)",
        ("shard1", "shard1", "shard2", "shard3"): "shard 1 twice",
        ("shard1", "other"): "shards of different splits",
        ("shard1", "strict", "shard3"): "run.options.gate is 'ci_low', but 'score'",
        ("shard1", "nowhere"): "nowhere/results.json: not found",
    }
    for folders, message in cases.items():
        merged = merge(pytester, *folders, "--out", "merged")
        assert merged.returncode == 4 and message in merged.stdout, (folders, merged.stdout, merged.stderr)
        assert "Traceback" not in merged.stdout + merged.stderr
    partial = merge(pytester, "shard1", "shard2", "--out", "merged", "--allow-partial")
    assert partial.returncode in (0, 1) and "llmeval summary" in partial.stdout


def test_a_corrupt_samples_line_names_file_and_line(pytester: pytest.Pytester, changed: Any) -> None:
    run(pytester, changed, "--llm-report-dir=shard1", "--llm-shard=1/1")
    path = pytester.path / "shard1" / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:20]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    merged = merge(pytester, "shard1", "--out", "merged")
    assert merged.returncode == 4
    assert "shard1/samples.jsonl:3: not a sample record" in merged.stdout


def test_shards_split_python_dataset_tests_too(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    rows = [{"id": str(i), "q": f"q{i}", "answer": "a"} for i in range(10)]
    (pytester.path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pytester.makepyfile(test_qa="""
        import pytest_llmeval as llmeval

        @llmeval.dataset("qa.jsonl", subject="qa")
        def test_answer(llm, sample):
            assert llm.generate(sample["q"]) == "a"

        def test_plain():
            pass
    """)
    server = fake_openai_factory(replies={f"q{i}": "a" for i in range(10)}, default_reply="?")
    ids: list[set[str]] = []
    for index in (1, 2):
        result = run(pytester, server, f"--llm-shard={index}/2", "-v")
        ids.append({line.split(" ")[0] for line in result.stdout.lines if "::test_" in line and "PASSED" in line})
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 11
    assert {len([i for i in part if "test_answer" in i]) for part in ids} == {5}


def test_a_shard_never_writes_a_baseline(pytester: pytest.Pytester, fake_openai_factory: Any) -> None:
    write_gen_suite(pytester)
    server = fake_openai_factory(replies=gen_replies(set()), default_reply="?")
    result = run(pytester, server, "--llm-shard=1/2", "--llm-update-baseline")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--llm-update-baseline with --llm-shard: *pytest-llmeval merge ... --update-baseline*"])
    result = run(pytester, server, "--llm-shard=1/2", "--llm-baseline=missing.json")
    assert result.ret == 1 and not (pytester.path / "missing.json").exists()
    result.stdout.fnmatch_lines(["*baseline missing.json does not exist; a shard does not write one*"])
