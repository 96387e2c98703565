"""Import paths moved by the reorganisation still work for one minor version, and say where to go."""

from __future__ import annotations

import importlib

import pytest

# old module, a name read from it, the module it moved to
MOVED = [
    ("pytest_llmeval.evaluate", "new_result", "pytest_llmeval.suites.evaluate"),
    ("pytest_llmeval.engine.prefetch", "items_to_queue", "pytest_llmeval.suites.prefetch"),
    ("pytest_llmeval.engine.scheduler", "subject_scope", "pytest_llmeval.suites.scheduler"),
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
