"""One record of the settings that decide a run: written into results.json, read back by merge."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_llmeval.results.conclude import Settings


def test_the_record_round_trips_through_json() -> None:
    settings = Settings(models=("a", "b"), latency_gates={"e2e_p95_ms": 500.0}, gate="ci_low", max_unparsed=0.05,
                        baseline=Path("base.json"), update_baseline=True, regression_tolerance=0.02,
                        regression_significance=0.1, limit=7, strict=True)
    record = json.loads(json.dumps(settings.to_record()))
    assert set(record) == set(Settings.RECORDED)
    assert Settings.from_record(record) == settings


def test_defaults_are_the_tables() -> None:
    assert Settings.from_record({}) == Settings()
    assert (Settings().regression_tolerance, Settings().regression_significance) == (0.01, 0.05)
