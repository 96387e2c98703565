"""Deprecated: moved to ``pytest_llmeval.suites.scheduler`` (see ``moved.py``)."""

from ..moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.suites.scheduler")
