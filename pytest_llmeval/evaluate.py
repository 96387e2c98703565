"""Deprecated: suite evaluation moved to ``pytest_llmeval.suites.evaluate`` (see ``moved.py``)."""

from .moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.suites.evaluate")
