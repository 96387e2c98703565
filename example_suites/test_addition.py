"""A property test of the model: hypothesis draws 20 pairs of one-digit numbers (the same 20 on
every run and every xdist worker); each pair is one sample of the subject ``test_adds``."""

import pytest
from hypothesis import strategies as st

import pytest_llmeval as llmeval


@llmeval.examples(a=st.integers(0, 9), b=st.integers(0, 9), n=20)
@pytest.mark.llm_threshold(0.7)
def test_adds(llm, a, b):
    reply = llm.generate(f"What is {a} + {b}? Reply with the number only.", max_tokens=8)
    assert str(a + b) in reply
