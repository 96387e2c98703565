"""Collection cost of ``@llmeval.examples``: 200 drawn examples against 200 rows of
``@llmeval.dataset`` (the peer: the same samples from a file), each collected in a fresh pytest
process (``--collect-only``), and hypothesis's draw alone, in this process.

    python benchmarks/examples_collect.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROPERTY = """
import pytest_llmeval as llmeval
from hypothesis import strategies as st

@llmeval.examples(a=st.integers(0, 999), b=st.integers(0, 999), n=200)
def test_adds(llm, a, b):
    assert str(a + b) in llm.generate(f"What is {a} + {b}?")
"""
DATASET = """
import pytest_llmeval as llmeval

@llmeval.dataset("rows.jsonl", subject="adds")
def test_adds(llm, sample):
    assert str(sample["a"] + sample["b"]) in llm.generate(f"What is {sample['a']} + {sample['b']}?")
"""


def collect(folder: Path, name: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "--llm-model=m", "--llm-base-url=http://127.0.0.1:9/v1", name],
                          cwd=folder, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert "200 tests collected" in done.stdout, done.stdout + done.stderr
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_property.py").write_text(PROPERTY)
        (folder / "test_dataset.py").write_text(DATASET)
        rows = [{"id": str(i), "a": i, "b": 999 - i} for i in range(200)]
        (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for i in range(rounds):
            prop, data = collect(folder, "test_property.py"), collect(folder, "test_dataset.py")
            print(f"round {i + 1}: examples {prop:.2f} s, dataset {data:.2f} s, ratio {prop / data:.2f}, "
                  f"load {os.getloadavg()[0]:.2f}")
    from hypothesis import strategies as st

    from pytest_llmeval.property_tests import draw

    draw({"a": st.integers(0, 9)}, 5, 0)  # imports and first-use caches
    started = time.perf_counter()
    drawn = draw({"a": st.integers(0, 999), "b": st.integers(0, 999)}, 200, 1)
    print(f"draw alone: {len(drawn)} examples in {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
