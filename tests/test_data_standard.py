"""The standard layouts on every file of the real benchmark data in ../shared/data.

Row counts per subject come from ../shared/data/SOURCES.md, copied here as data so a loader that
drops or merges rows in any one file fails by name. Field contents are checked against Python's
csv module, read independently, on every file: that covers CRLF, bare CR in a field, multi-line
fields and missing final newlines without trusting pandas.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pytest_llmeval.data import DataSpec, load
from pytest_llmeval.samples import Sample
from tests._shared_data import SHARED_DATA, requires_shared_data

pytestmark = requires_shared_data

# subject dev/[val/]test, from SOURCES.md "Rows per subject".
CMMLU_ROWS = """
agronomy 5/169
anatomy 5/148
ancient_chinese 5/164
arts 5/160
astronomy 5/165
business_ethics 5/209
chinese_civil_service_exam 5/160
chinese_driving_rule 5/131
chinese_food_culture 5/136
chinese_foreign_policy 5/107
chinese_history 5/323
chinese_literature 5/204
chinese_teacher_qualification 5/179
clinical_knowledge 5/237
college_actuarial_science 5/106
college_education 5/107
college_engineering_hydrology 5/106
college_law 5/108
college_mathematics 5/105
college_medical_statistics 5/106
college_medicine 5/273
computer_science 5/204
computer_security 5/171
conceptual_physics 5/147
construction_project_management 5/139
economics 5/159
education 5/163
electrical_engineering 5/172
elementary_chinese 5/252
elementary_commonsense 5/198
elementary_information_and_technology 5/238
elementary_mathematics 5/230
ethnology 5/135
food_science 5/143
genetics 5/176
global_facts 5/149
high_school_biology 5/169
high_school_chemistry 5/132
high_school_geography 5/118
high_school_mathematics 5/164
high_school_physics 5/110
high_school_politics 5/143
human_sexuality 5/126
international_law 5/185
journalism 5/172
jurisprudence 5/411
legal_and_moral_basis 5/214
logical 5/123
machine_learning 5/122
management 5/210
marketing 5/180
marxist_theory 5/189
modern_chinese 5/116
nutrition 5/145
philosophy 5/105
professional_accounting 5/175
professional_law 5/211
professional_medicine 5/376
professional_psychology 5/232
public_relations 5/174
security_study 5/135
sociology 5/226
sports_science 5/165
traditional_chinese_medicine 5/185
virology 5/169
world_history 5/161
world_religions 5/160
"""
CEVAL_ROWS = """
accountant 5/49/443
advanced_mathematics 5/19/173
art_studies 5/33/298
basic_medicine 5/19/175
business_administration 5/33/301
chinese_language_and_literature 5/23/209
civil_servant 5/47/429
clinical_medicine 5/22/200
college_chemistry 5/24/224
college_economics 5/55/497
college_physics 5/19/176
college_programming 5/37/342
computer_architecture 5/21/193
computer_network 5/19/171
discrete_mathematics 5/16/153
education_science 5/29/270
electrical_engineer 5/37/339
environmental_impact_assessment_engineer 5/31/281
fire_engineer 5/31/282
high_school_biology 5/19/175
high_school_chemistry 5/19/172
high_school_chinese 5/19/178
high_school_geography 5/19/178
high_school_history 5/20/182
high_school_mathematics 5/18/166
high_school_physics 5/19/175
high_school_politics 5/19/176
ideological_and_moral_cultivation 5/19/172
law 5/24/221
legal_professional 5/23/215
logic 5/22/204
mao_zedong_thought 5/24/219
marxism 5/19/179
metrology_engineer 5/24/219
middle_school_biology 5/21/192
middle_school_chemistry 5/20/185
middle_school_geography 5/12/108
middle_school_history 5/22/207
middle_school_mathematics 5/19/177
middle_school_physics 5/19/178
middle_school_politics 5/21/193
modern_chinese_history 5/23/212
operating_system 5/19/179
physician 5/49/443
plant_protection 5/22/199
probability_and_statistics 5/18/166
professional_tour_guide 5/29/266
sports_science 5/19/180
tax_accountant 5/49/443
teacher_qualification 5/44/399
urban_and_rural_planner 5/46/418
veterinary_medicine 5/23/210
"""
MMLU_ROWS = """
abstract_algebra 5/11/100
anatomy 5/14/135
astronomy 5/16/152
business_ethics 5/11/100
clinical_knowledge 5/29/265
college_biology 5/16/144
college_chemistry 5/8/100
college_computer_science 5/11/100
college_mathematics 5/11/100
college_medicine 5/22/173
college_physics 5/11/102
computer_security 5/11/100
conceptual_physics 5/26/235
econometrics 5/12/114
electrical_engineering 5/16/145
elementary_mathematics 5/41/378
formal_logic 5/14/126
global_facts 5/10/100
high_school_biology 5/32/310
high_school_chemistry 5/22/203
high_school_computer_science 5/9/100
high_school_european_history 5/18/165
high_school_geography 5/22/198
high_school_government_and_politics 5/21/193
high_school_macroeconomics 5/43/390
high_school_mathematics 5/29/270
high_school_microeconomics 5/26/238
high_school_physics 5/17/151
high_school_psychology 5/60/545
high_school_statistics 5/23/216
high_school_us_history 5/22/204
high_school_world_history 5/26/237
human_aging 5/23/223
human_sexuality 5/12/131
international_law 5/13/121
jurisprudence 5/11/108
logical_fallacies 5/18/163
machine_learning 5/11/112
management 5/11/103
marketing 5/25/234
medical_genetics 5/11/100
miscellaneous 5/86/783
moral_disputes 5/38/346
moral_scenarios 5/100/895
nutrition 5/33/306
philosophy 5/34/311
prehistory 5/35/324
professional_accounting 5/31/282
professional_law 5/170/1534
professional_medicine 5/31/272
professional_psychology 5/69/612
public_relations 5/12/110
security_studies 5/27/245
sociology 5/22/201
us_foreign_policy 5/11/100
virology 5/18/166
world_religions 5/19/171
"""

SPLITS = {"mmlu": ("dev", "val", "test"), "cmmlu": ("dev", "test"), "ceval": ("dev", "val", "test")}
TABLES = {"mmlu": MMLU_ROWS, "cmmlu": CMMLU_ROWS, "ceval": CEVAL_ROWS}
TOTALS = {
    ("mmlu", "dev"): 285, ("mmlu", "val"): 1531, ("mmlu", "test"): 14042,
    ("cmmlu", "dev"): 335, ("cmmlu", "test"): 11582,
    ("ceval", "dev"): 260, ("ceval", "val"): 1346, ("ceval", "test"): 12342,
    ("gsm8k", "test"): 1319, ("gsm8k", "train"): 7473, ("gsm8k", "test_socratic"): 1319,
}
# (split, subject) -> [(row, option index)] of MMLU's literal "None" options: 12 in all.
MMLU_NONE_OPTIONS = {
    ("val", "conceptual_physics"): [(16, 0)], ("val", "electrical_engineering"): [(10, 3)],
    ("test", "college_computer_science"): [(10, 0), (94, 0)],
    ("test", "college_mathematics"): [(8, 0), (21, 0), (60, 0)],
    ("test", "college_physics"): [(60, 3)],
    ("test", "electrical_engineering"): [(41, 3), (68, 3), (107, 3), (117, 3)],
}


def _expected(fmt: str, split: str) -> dict[str, int]:
    column = SPLITS[fmt].index(split)
    counts = {}
    for line in TABLES[fmt].strip().splitlines():
        subject, numbers = line.split()
        counts[subject] = int(numbers.split("/")[column])
    return counts


_CACHE: dict[tuple[str, str], dict[str, list[Sample]]] = {}


def _load(fmt: str, split: str) -> dict[str, list[Sample]]:
    """Each split once per session: the same load is checked from several angles."""
    if (fmt, split) not in _CACHE:
        assert SHARED_DATA is not None
        _CACHE[fmt, split] = load(DataSpec(format=fmt, path=SHARED_DATA / fmt, split=split))
    return _CACHE[fmt, split]


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


LAYOUT_SPLITS = [(fmt, split) for fmt, splits in SPLITS.items() for split in splits]


def test_tables_match_the_published_totals() -> None:
    for fmt, split in LAYOUT_SPLITS:
        assert sum(_expected(fmt, split).values()) == TOTALS[fmt, split], (fmt, split)


@pytest.mark.parametrize(("fmt", "split"), LAYOUT_SPLITS)
def test_rows_per_subject_match_sources(fmt: str, split: str) -> None:
    loaded = _load(fmt, split)
    assert {subject: len(samples) for subject, samples in loaded.items()} == _expected(fmt, split)
    assert sum(map(len, loaded.values())) == TOTALS[fmt, split]
    assert list(loaded) == sorted(loaded)


@pytest.mark.parametrize(("fmt", "split"), LAYOUT_SPLITS)
def test_every_cell_matches_the_csv_module(fmt: str, split: str) -> None:
    """Oracle: Python's csv module with newline="" on every file of the split."""
    assert SHARED_DATA is not None
    loaded = _load(fmt, split)
    for subject, samples in loaded.items():
        name = f"{subject}.csv" if fmt == "cmmlu" else f"{subject}_{split}.csv"
        rows = _csv_rows(SHARED_DATA / fmt / split / name)
        header, rows = (None, rows) if fmt == "mmlu" else (rows[0], rows[1:])
        assert len(rows) == len(samples), name
        for index, (row, sample) in enumerate(zip(rows, samples)):
            if header is None:
                expected: dict[str, str | None] = dict(zip(["question", "A", "B", "C", "D", "answer"], row))
                assert sample.id == str(index)
            else:
                expected = dict(zip(["id", *header[1:]] if fmt == "cmmlu" else header, row))
                expected["question"] = expected.get("question", expected.get("Question"))
                expected["answer"] = expected.get("answer", expected.get("Answer"))
                assert sample.id == expected["id"]
            assert sample.choices == tuple(expected[o] for o in "ABCD"), (name, index)
            assert sample.fields["question"] == expected["question"], (name, index)
            assert sample.target == expected["answer"], (name, index)
            assert sample.fields["target"] == sample.target and sample.subject == subject


@pytest.mark.parametrize(("fmt", "split"), [(f, s) for f, s in LAYOUT_SPLITS if (f, s) != ("ceval", "test")])
def test_targets_are_letters(fmt: str, split: str) -> None:
    targets = {s.target for samples in _load(fmt, split).values() for s in samples}
    assert targets == {"A", "B", "C", "D"}


def test_mmlu_literal_none_options_stay_strings() -> None:
    found = {}
    for split in ("dev", "val", "test"):
        for subject, samples in _load("mmlu", split).items():
            hits = [(s.id, s.choices.index("None")) for s in samples if "None" in s.choices]
            if hits:
                found[split, subject] = [(int(i), o) for i, o in hits]
    assert found == MMLU_NONE_OPTIONS
    assert sum(map(len, found.values())) == 12
    sample = _load("mmlu", "test")["college_physics"][60]
    assert sample.choices[3] == "None" and sample.fields["D"] == "None"


def test_mmlu_multiline_questions_crlf_and_missing_final_newline() -> None:
    us_history = _load("mmlu", "test")["high_school_us_history"]
    assert all("\n" in s.fields["question"] for s in us_history[:5])
    # CRLF files without a final newline: the last row is complete and its answer carries no "\r".
    last = _load("mmlu", "test")["machine_learning"][-1]
    assert last.choices[3] == "False, True" and last.target == "C"
    assert _load("mmlu", "test")["professional_law"][-1].target == "D"


def test_mmlu_loads_from_a_split_folder_or_a_single_file() -> None:
    assert SHARED_DATA is not None
    by_folder = load(DataSpec(format="mmlu", path=SHARED_DATA / "mmlu" / "dev"))
    assert len(by_folder) == 57 and "abstract_algebra" in by_folder
    one = load(DataSpec(format="mmlu", path=SHARED_DATA / "mmlu" / "val" / "anatomy_val.csv"))
    assert list(one) == ["anatomy"] and len(one["anatomy"]) == 14
    assert load(DataSpec(format="mmlu", path=SHARED_DATA / "mmlu"))["anatomy"] == _load("mmlu", "test")["anatomy"]


def test_cmmlu_ids_are_the_index_column() -> None:
    for split in ("dev", "test"):
        for subject, samples in _load("cmmlu", split).items():
            assert [s.id for s in samples] == [str(i) for i in range(len(samples))], subject
    first = _load("cmmlu", "test")["agronomy"][0]
    assert first.fields["id"] == "0" and first.fields["Question"] == first.fields["question"]
    assert first.fields["Answer"] == first.fields["answer"] == first.target == "B"


def test_ceval_default_split_is_val_and_test_has_no_answers() -> None:
    assert SHARED_DATA is not None
    default = load(DataSpec(format="ceval", path=SHARED_DATA / "ceval"))
    assert sum(map(len, default.values())) == 1346
    test = _load("ceval", "test")
    assert all(s.target is None and "answer" not in s.fields for samples in test.values() for s in samples)
    assert all(len(s.choices) == 4 for samples in test.values() for s in samples)


def test_ceval_bare_cr_and_multiline_explanations_are_kept() -> None:
    legal = {s.id: s for s in _load("ceval", "test")["legal_professional"]}
    question = legal["38"].fields["question"]
    assert "\r\n" in question and "\r②" in question
    dev = _load("ceval", "dev")
    assert all("explanation" in s.fields for samples in dev.values() for s in samples)
    assert any("\n" in s.fields["explanation"] for samples in dev.values() for s in samples)
    assert dev["accountant"][0].fields["explanation"].startswith("1. 乙公司")


@pytest.mark.parametrize("split", ["test", "train", "test_socratic"])
def test_gsm8k_counts_and_final_answers(split: str) -> None:
    loaded = _load("gsm8k", split)
    assert list(loaded) == ["gsm8k"] and len(loaded["gsm8k"]) == TOTALS["gsm8k", split]
    for sample in loaded["gsm8k"]:
        assert sample.target is not None and "," not in sample.target
        assert sample.target == sample.fields["target"]
        assert sample.fields["answer"].splitlines()[-1].startswith("#### ")
        int(sample.target)  # a plain integer once commas are gone


def test_gsm8k_commas_and_negative_targets() -> None:
    test = _load("gsm8k", "test")["gsm8k"]
    assert test[0].target == "18" and test[0].id == "0"
    assert test[146].target == "2125" and test[146].fields["answer"].endswith("#### 2,125")
    assert test[611].target == "1450000"
    assert test[489].target == "-10" and test[1113].target == "-3"
    assert [s.target for s in _load("gsm8k", "train")["gsm8k"] if (s.target or "").startswith("-")] == ["-7", "-47", "-12"]
    socratic = _load("gsm8k", "test_socratic")["gsm8k"]
    assert " ** " in socratic[0].fields["answer"] and socratic[146].target == "2125"


def test_gsm8k_file_path_and_subject() -> None:
    assert SHARED_DATA is not None
    loaded = load(DataSpec(format="gsm8k", path=SHARED_DATA / "gsm8k" / "train.jsonl", subject="math"))
    assert list(loaded) == ["math"] and len(loaded["math"]) == 7473
