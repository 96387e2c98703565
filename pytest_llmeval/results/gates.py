"""Deprecated: moved to ``pytest_llmeval.results.latency_gates`` (see ``moved.py``)."""

from ..moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.results.latency_gates")
