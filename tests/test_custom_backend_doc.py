"""The walkthrough in the README's "Backends of your own" runs as written: its code blocks are copied
verbatim into a project, and the suite runs against a server speaking the vendor's native API
(``tests/servers/vendor_native.py``), business error codes and all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import (
    MC_ROWS,
    mc_replies,
    mc_user_message,
    read_samples,
    sample_outcomes,
    write_mc_suite,
)
from tests.servers.vendor_native import CODES, VendorNativeServer

DOC = Path(__file__).resolve().parents[1] / "README.md"
TESTED_BLOCK = re.compile(r"<!-- tested: tests/test_custom_backend_doc\.py writes this block to (\S+) -->\n"
                          r"```\w+\n(.*?)\n```", re.DOTALL)
KEY = "zk-test-0123.secret"
ROW = {row["id"]: mc_user_message(row) for row in MC_ROWS}


def doc_files() -> dict[str, str]:
    """The doc's tested blocks by the file each becomes."""
    return {path: text + "\n" for path, text in TESTED_BLOCK.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def vendor() -> Iterator[VendorNativeServer]:
    faults = {ROW["q3"]: "sensitive", ROW["q4"]: "1261", ROW["q5"]: "1301"}
    with VendorNativeServer(mc_replies(), faults=faults, required_key=KEY, known_models={"glm-4-flash"}) as server:
        yield server


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for path, text in doc_files().items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    pytester.syspathinsert()
    monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
    write_mc_suite(pytester)
    return pytester


def _run(project: pytest.Pytester, vendor: VendorNativeServer, *args: str) -> pytest.RunResult:
    return project.runpytest("--llm-model=glm-4-flash-native", f"--llm-base-url={vendor.base_url}", "--llm-retries=0",
                             "--llm-report-dir=out", "-p", "no:cacheprovider", *args)


def test_the_doc_has_the_module_and_the_profile():
    files = doc_files()
    assert sorted(files) == ["llm_models.yaml", "mypkg/zhipu_native.py"]
    assert "class ZhipuNative(OpenAIResponseBackend)" in files["mypkg/zhipu_native.py"]


def test_refused_prompts_are_misses_with_the_vendor_s_reason(project, vendor):
    result = _run(project, vendor)
    assert sample_outcomes(result) == {"passed": 2, "missed": 4}, result.stdout.str()
    samples = {s["id"]: s for s in read_samples(project.path / "out")}
    assert all(s["error"] is None for s in samples.values())
    assert samples["q5"]["correct"] is False and samples["q5"]["reply"] in (None, "")
    assert samples["q5"]["rejected"] == f"content filter (1301): {CODES['1301'][1]}"
    assert samples["q4"]["rejected"] == "prompt too long (1261): Prompt exceeds max length"
    assert samples["q3"]["rejected"] == "refused by the endpoint (finish_reason: sensitive)"
    assert samples["q6"]["rejected"] is None and samples["q6"]["correct"] is False  # a plain wrong answer
    sent = vendor.requests[0]
    assert (sent["model"], sent["max_tokens"], sent["temperature"]) == ("glm-4-flash", 16, 0.0)


def test_a_rate_limit_is_an_error_not_a_miss(project, vendor):
    vendor.faults[ROW["q1"]] = "1302"
    result = _run(project, vendor)
    assert result.parseoutcomes().get("errors") == 1
    q1 = next(s for s in read_samples(project.path / "out") if s["id"] == "q1")
    assert q1["rejected"] is None and q1["correct"] is None
    assert q1["error"].endswith(f"glm: HTTP 429, code 1302: {CODES['1302'][1]}")


@pytest.mark.parametrize(("key", "needle"), [("zk-wrong.key", "HTTP 401, code 1002"), (None, "ZHIPUAI_API_KEY")])
def test_a_rejected_or_missing_key_stops_the_run_with_one_line(project, vendor, monkeypatch, key, needle):
    if key is None:
        monkeypatch.delenv("ZHIPUAI_API_KEY")
    else:
        monkeypatch.setenv("ZHIPUAI_API_KEY", key)
    result = _run(project, vendor)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0 and "Traceback" not in output and "zk-wrong.key" not in output
    assert [line for line in result.outlines if needle in line]
    assert len(vendor.requests) <= 1
