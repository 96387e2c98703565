"""A custom check as an ordinary pytest test: every data row is one sample of the subject."""

import pytest

import pytest_llmeval as llmeval


@pytest.mark.llm_threshold(0.6)
@llmeval.dataset("data/capitals.jsonl", subject="capitals-contains")
def test_capital_named(llm, sample):
    reply = llm.generate(f"What is the capital of {sample['country']}?", max_tokens=24)
    assert sample["answer"].lower() in reply.lower()
