"""Deprecated: moved to ``pytest_llmeval.backends.http.options`` (see ``moved.py``)."""

from pytest_llmeval.moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.backends.http.options")
