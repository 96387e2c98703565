"""Deprecated: moved to ``pytest_llmeval.backends.openai.chat`` (see ``moved.py``)."""

from pytest_llmeval.moved import moved

__getattr__ = moved(__name__, "pytest_llmeval.backends.openai.chat")
