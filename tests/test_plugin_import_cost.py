"""Every pytest run in an environment with the plugin installed pays for it, LLM or not."""

from __future__ import annotations

HEAVY = ["pytest_llmeval.profiles", "pytest_llmeval.python_tests", "pytest_llmeval.suites.collect",
         "pytest_llmeval.data", "pytest_llmeval.scoring", "pytest_llmeval.cli", "pytest_llmeval.doctor",
         "pytest_llmeval.backends.llamacpp_probe", "pydantic", "pandas", "openai", "llama_cpp"]


def test_a_run_without_llm_tests_loads_nothing_heavy(pytester):
    pytester.makepyfile(f"""
import sys

def test_plain():
    loaded = [m for m in {HEAVY!r} if m in sys.modules]
    assert loaded == [], loaded
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_suites_still_collect_when_models_resolve_on_first_use(pytester):
    pytester.makefile(".llmeval.yaml", s="task: exact_match\ndata: {format: jsonl, path: d.jsonl}\nprompt: x\n")
    pytester.makefile(".jsonl", d='{"question": "q", "answer": "a"}\n')
    result = pytester.runpytest_subprocess("--co", "-q", "--llm-model=m")
    result.stdout.fnmatch_lines(["s.llmeval.yaml::d::0[[]m[]]"])
