"""Import paths moved by the reorganisation still work for one minor version, and say where to go."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

# old module, a name read from it, the module it moved to
MOVED = [
    ("pytest_llmeval.evaluate", "new_result", "pytest_llmeval.suites.evaluate"),
    ("pytest_llmeval.engine.prefetch", "items_to_queue", "pytest_llmeval.suites.prefetch"),
    ("pytest_llmeval.engine.scheduler", "subject_scope", "pytest_llmeval.suites.scheduler"),
    ("pytest_llmeval.backends.openai_chat", "OpenAIChatBackend", "pytest_llmeval.backends.openai.chat"),
    ("pytest_llmeval.backends.openai_dict", "OpenAIResponseBackend", "pytest_llmeval.backends.openai.response"),
    ("pytest_llmeval.backends.openai_logprobs", "EchoScorer", "pytest_llmeval.backends.openai.logprobs"),
    ("pytest_llmeval.backends.http_options", "build_config", "pytest_llmeval.backends.http.options"),
    ("pytest_llmeval.backends.http_presets", "PRESETS", "pytest_llmeval.backends.http.presets"),
    ("pytest_llmeval.backends.http_sse", "iter_events", "pytest_llmeval.backends.http.sse"),
    ("pytest_llmeval.backends.http_template", "BodyTemplate", "pytest_llmeval.backends.http.template"),
    ("pytest_llmeval.backends.hf_generate", "generate_replies", "pytest_llmeval.backends.hf.generate"),
    ("pytest_llmeval.backends.hf_load", "load_hf_model", "pytest_llmeval.backends.hf.load"),
    ("pytest_llmeval.backends.hf_options", "parse_options", "pytest_llmeval.backends.hf.options"),
    ("pytest_llmeval.backends.hf_score", "plan_reads", "pytest_llmeval.backends.hf.score"),
    ("pytest_llmeval.results.gates", "check_gates", "pytest_llmeval.results.latency_gates"),
    ("pytest_llmeval.report.flips", "baseline_lines", "pytest_llmeval.report.baseline"),
    ("pytest_llmeval.outcome", "raise_for_result", "pytest_llmeval.item_outcome"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_an_old_path_gives_the_same_object_with_a_deprecation_warning(old: str, name: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"^{old}\.{name} moved to {new}\.{name}; the old path goes in "
                                                r"pytest-llmeval 0\.2$") as record:
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)
    assert record[0].filename == __file__  # the warning points at the user's line


def test_a_name_the_new_module_lacks_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        importlib.import_module("pytest_llmeval.evaluate").no_such_name  # noqa: B018


@pytest.mark.parametrize(("family", "name"), [("http", "HTTPBackend"), ("hf", "HFBackend")])
def test_a_family_keeps_its_import_path_without_a_warning(family: str, name: str) -> None:
    import warnings

    new = getattr(importlib.import_module(f"pytest_llmeval.backends.{family}.backend"), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = getattr(importlib.import_module(f"pytest_llmeval.backends.{family}"), name)

    assert old is new


def test_an_old_backend_path_still_names_a_backend() -> None:
    from pytest_llmeval.backends.openai.chat import OpenAIChatBackend
    from pytest_llmeval.backends.registry import resolve_backend_class

    with pytest.warns(DeprecationWarning, match="openai_chat.OpenAIChatBackend moved"):
        assert resolve_backend_class("pytest_llmeval.backends.openai_chat:OpenAIChatBackend") is OpenAIChatBackend


def test_an_old_path_is_a_deleted_file_so_git_follows_the_move() -> None:
    """The forwarders live in backends/_moved/, not at the old file names: a change another branch
    makes to ``hf_score.py`` then merges into ``hf/score.py`` as a rename, not a conflict."""
    import pytest_llmeval.backends as backends

    folder = Path(backends.__file__).parent
    olds = [old.rpartition(".")[2] for old, _, _ in MOVED if old.startswith("pytest_llmeval.backends.")]
    assert [name for name in olds if (folder / f"{name}.py").exists()] == []
    assert all((folder / "_moved" / f"{name}.py").is_file() for name in olds)
