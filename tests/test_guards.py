"""The guards' own rules, one by one: the ranges table, the scrubber, duplicate keys in YAML and
JSON, CSV line numbers, and the Retry-After cap. (End to end, the corpus runs them as a user would.)"""

from __future__ import annotations

import math
import threading
import time

import pytest

from pytest_llmeval.backends.base import BackendSettings, Reply
from pytest_llmeval.data.readers import read_csv_table
from pytest_llmeval.engine.retry import MAX_RETRY_AFTER_S, Cancelled, RetryPolicy
from pytest_llmeval.errors import BackendError, ConfigError, TransientBackendError
from pytest_llmeval.profiles import ModelSpec
from pytest_llmeval.ranges import RANGES, check
from pytest_llmeval.scrub import MASK, Scrubber, secrets_of
from pytest_llmeval.suites.checks import node_name, template_names
from pytest_llmeval.yamlfile import DuplicateKeyError, loads_json_unique


@pytest.mark.parametrize(("key", "value", "message"), [
    ("timeout", 0, "expected a number > 0, got 0"),
    ("timeout", math.nan, "expected a number > 0, got nan"),
    ("rate", math.inf, "expected a number > 0, got inf"),
    ("retries", -1, "expected an integer >= 0, got -1"),
    ("retries", True, "expected an integer >= 0, got True"),
    ("concurrency", 2.5, "expected an integer >= 1, got 2.5"),
    ("limit", "3", "expected an integer >= 1, got '3'"),
    ("regression_significance", 0, "expected a number > 0 and <= 1, got 0"),
    ("regression_tolerance", 1.5, "expected a number from 0 to 1, got 1.5"),
])
def test_a_value_outside_its_range_is_refused_with_the_range(key, value, message):
    with pytest.raises(ValueError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        check(key, value)


def test_values_inside_their_range_keep_their_type():
    assert check("retries", 0) == 0 and check("max_tokens", 3.0) == 3 and isinstance(check("max_tokens", 3.0), int)
    assert check("temperature", 0) == 0.0 and isinstance(check("temperature", 0), float)
    assert check("timeout", None) is None
    assert all(spec.default is None or spec.check(spec.default) == spec.default for spec in RANGES.values())


def test_the_scrubber_masks_every_secret_longest_first_and_leaves_short_ones():
    scrub = Scrubber.of(["sk-abcdef123456", "sk-abcdef", "tiny"])
    assert scrub.text("a sk-abcdef123456 b sk-abcdef c tiny") == f"a {MASK} b {MASK} c tiny"
    assert scrub.value({"x": ["sk-abcdef123456", 3], "y": ("sk-abcdef",)}) == {"x": [MASK, 3], "y": (MASK,)}
    error = TransientBackendError("echo sk-abcdef123456", retry_after_s=2)
    scrub.error(error)
    assert str(error) == f"echo {MASK}" and error.retry_after_s == 2 and isinstance(error, TransientBackendError)
    assert not Scrubber.of(["short"])


def test_secrets_are_the_variables_the_models_read(monkeypatch):
    monkeypatch.setenv("GUARD_KEY", "sk-guard-key-value")
    monkeypatch.setenv("GUARD_TOKEN", "tok-guard-token-value")
    specs = [ModelSpec("a", BackendSettings(backend="openai", model="a", api_key_env="GUARD_KEY"), frozenset()),
             ModelSpec("b", BackendSettings(backend="http", model="b", extra={"headers": {"X-Token": "${GUARD_TOKEN}"}}),
                       frozenset())]
    assert sorted(secrets_of(specs)) == ["sk-guard-key-value", "tok-guard-token-value"]


@pytest.mark.parametrize(("text", "path"), [
    ('{"a": 1, "a": 2}', "a"),
    ('{"models": {"m": {"s": {"subjects": {"x": {"samples": {"q1": {}, "q1": {}}}}}}}}', "models.m.s.subjects.x.samples.q1"),
    ('[{"k": 1}, {"k": 1, "k": 2}]', "1.k"),
])
def test_a_json_key_given_twice_is_named_by_its_path(text, path):
    with pytest.raises(DuplicateKeyError, match=f"^{path}: given twice"):
        loads_json_unique(text)


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    from pytest_llmeval.yamlfile import load_validated
    from pytest_llmeval.profiles import ProfilesFile

    path = tmp_path / "llm_models.yaml"
    path.write_text("models:\n  a: &base {backend: openai, max_tokens: 5}\n  m:\n    <<: *base\n    max_tokens: 7\n")
    assert load_validated(path, ProfilesFile).models["m"].max_tokens == 7
    path.write_text("models:\n  a: &base {backend: openai}\n  m:\n    <<: *base\n    max_tokens: 7\n    max_tokens: 8\n")
    with pytest.raises(ConfigError, match=r"llm_models.yaml:6: models.m.max_tokens: given twice \(first at line 5\)"):
        load_validated(path, ProfilesFile)


def test_csv_rows_know_their_lines_across_quoted_line_breaks_and_blank_lines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'id,question\r\n1,"two\r\nlines"\r\n\r\n2,plain\r\n3,"a\nb\nc"\r\n4,last')
    table = read_csv_table(path)
    assert [table.where(i) for i in range(4)] == [f"{path}:{n}" for n in (2, 5, 6, 9)]
    assert [row["id"] for row in table.rows] == ["1", "2", "3", "4"]


def test_a_gzip_csv_is_read_whatever_its_name(tmp_path):
    import gzip

    path = tmp_path / "q.csv"
    path.write_bytes(gzip.compress(b"id,question\n1,x\n2,y\n"))
    table = read_csv_table(path)
    assert [row["question"] for row in table.rows] == ["x", "y"] and table.where(1) == f"{path}:3"


def test_node_names_and_template_fields():
    assert node_name("a::b/c\nd") == "a_b_c_d" and node_name("") == "_"
    assert template_names(["{question}\n{choices}", "{meta.topic} {row[0]} {{literal}}", None]) == {
        "question", "choices", "meta", "row"}


def _policy_with(retry_after: float, deadline: float | None = None) -> tuple[list[float], BaseException | None]:
    """Attempts (as times) of a request whose server always asks to wait ``retry_after`` s."""
    attempts: list[float] = []

    def attempt() -> Reply:
        attempts.append(time.monotonic())
        raise TransientBackendError("HTTP 429", retry_after_s=retry_after)

    try:
        RetryPolicy(retries=3, deadline=deadline).call(attempt, threading.Event(), lambda: None)
    except BackendError as exc:
        return attempts, exc
    return attempts, None


def test_a_retry_after_beyond_the_cap_ends_the_sample_at_once():
    attempts, error = _policy_with(MAX_RETRY_AFTER_S + 1)
    assert len(attempts) == 1 and type(error) is BackendError
    assert str(error) == (f"HTTP 429; the server asked to wait {MAX_RETRY_AFTER_S + 1:g} s before retrying "
                          f"(Retry-After), longer than the {MAX_RETRY_AFTER_S:g} s this plugin waits")


def test_a_retry_after_past_the_deadline_ends_the_sample_at_once():
    attempts, error = _policy_with(30, deadline=time.time() + 5)
    assert len(attempts) == 1 and isinstance(error, Cancelled) and "past the run's deadline" in str(error)


def test_a_retry_after_within_bounds_is_obeyed():
    attempts, error = _policy_with(0.2)
    assert len(attempts) == 4 and min(b - a for a, b in zip(attempts, attempts[1:])) >= 0.2
    assert isinstance(error, TransientBackendError)
