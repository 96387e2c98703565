"""Deprecated: moved to ``pytest_llmeval.item_outcome`` (see ``moved.py``)."""

from .moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.item_outcome")
