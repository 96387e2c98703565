"""The one reader of the results document, and the one "last report per sample" rule."""

from __future__ import annotations

from pytest_llmeval.report import view
from pytest_llmeval.results.payload import SampleResult, last_per_sample

DOCUMENT = {
    "run": {"models": [{"name": "b"}, {"name": "a"}]},
    "subjects": [{"model": "a", "suite": "s", "subject": "geo"}, {"model": "c", "suite": "s", "subject": "sci"}],
    "groups": [{"model": "a", "suite": "s", "group": "all"}],
    "comparisons": [{"model": "a", "suite": "s", "kind": "group", "name": "all", "delta": -0.1}],
}


def test_rows_keys_comparisons_and_models() -> None:
    assert [view.row_key(r) for r in view.rows(DOCUMENT)] == [
        ("a", "s", "subject", "geo"), ("c", "s", "subject", "sci"), ("a", "s", "group", "all")]
    assert view.comparisons(DOCUMENT) == {("a", "s", "group", "all"): DOCUMENT["comparisons"][0]}
    assert view.comparisons(DOCUMENT, "regressions") == {} and view.comparisons({}) == {}
    assert view.models(DOCUMENT) == ["b", "a", "c"]  # the run's order, then a merged document's others
    assert view.rows({}) == [] and view.run({}) == {}


def test_the_last_report_of_a_sample_counts_in_first_report_order() -> None:
    first = SampleResult(model="m", suite="s", subject="x", id="1", version="v", nodeid="n1", correct=False)
    other = SampleResult(model="m", suite="s", subject="x", id="2", version="v", nodeid="n2", correct=True)
    rerun = SampleResult(model="m", suite="s", subject="x", id="1", version="v", nodeid="n1", correct=True)
    assert last_per_sample([first, other, rerun]) == [rerun, other]
    records = [r.sample_record() for r in (first, other, rerun)]
    assert view.latest_samples(records) == [records[2], records[1]]


def test_a_report_dir_holds_one_file_per_registered_writer(tmp_path) -> None:
    from pytest_llmeval.report.document import WRITERS, build_document, sample_records, write_report_dir
    from pytest_llmeval.results.conclude import Settings, conclude

    results = [SampleResult(model="m", suite="s", subject="x", id=str(i), version="v", nodeid=f"n{i}", correct=i % 2 == 0,
                            threshold=0.4) for i in range(4)]
    conclusion = conclude(results, Settings(models=("m",)))
    document = build_document({"models": [{"name": "m"}], "options": {}}, conclusion)
    write_report_dir(tmp_path / "out", document, conclusion, sample_records(conclusion))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(WRITERS)
    assert list(WRITERS) == ["results.json", "results.csv", "report.html", "junit.xml"]


def test_a_missing_value_is_one_glyph_for_people() -> None:
    """Every renderer for people formats numbers through view.number / view.interval."""
    assert [view.number(v) for v in (None, True, "0.5", 0.5, 1)] == [view.MISSING] * 3 + ["0.500", "1.000"]
    assert view.number(-0.25, "+.3f") == "-0.250" and view.number(None, ".3g") == view.MISSING
    assert view.interval(0.1, None) == view.MISSING and view.interval(0.1, 0.25) == "[0.100, 0.250]"

