"""junit.xml rendered from the results document and the sample records.

CI servers (GitLab, Jenkins, Azure) read JUnit XML, so this is how a run's rows reach their test
tabs. The layout, one ``<testsuite>`` per (model, suite)::

    <testsuites name="llmeval" tests= failures= errors=>
      <testsuite name="{model}: {suite}">
        <properties/>                 score:/ci:/threshold:/n:/unparsed:/version: per subject
                                      and group row; delta:/p: with a baseline; model, suite, version
        <testcase classname="{suite}.{subject}" name="{id}"/>        one per sample
        <testcase classname="{suite}.{subject}" name="score"/>       one per subject row
        <testcase classname="{suite}.group.{name}" name="score"/>    one per group row

A wrong answer is a *passed* testcase with ``outcome=miss`` (a miss is not a failure in this
product: the threshold decides), carrying the prompt and reply in ``<system-out>``; its ``rule``
and ``unparsed`` properties tell a reply with no readable answer from a wrong one. An error is an
``<error>``. A row below its threshold, over its limit of unparsed replies, or one that regressed
against the baseline, is a ``<failure>`` on its ``score`` testcase: that is what turns a CI test
tab red, as the exit status does.

Built with ``xml.etree`` so escaping is never hand-rolled; characters XML 1.0 forbids (control
characters, lone surrogates) are stripped first, because one of them makes the whole file
unreadable. Renderers never re-aggregate and read newer keys (``verdict``, ``comparisons``,
``regressions``, ``baseline``) as absent when a document predates them.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from ..atomic import write_atomic
from . import view

__all__ = [
    "clean_xml_text", "render_junit", "sample_properties", "suite_properties", "write_junit",
]

OUTPUT_CHARS = 2000  # of the prompt and of the reply, in a sample's <system-out>
# Everything outside XML 1.0's Char production: C0 controls but tab, newline and carriage return;
# surrogates (lone ones can sit in a Python str); U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DIGITS = re.compile("([0-9]+)")
_Part = tuple[int, int, str]  # a run of digits (0, value, "") or of other characters (1, 0, text)


def clean_xml_text(value: object) -> str:
    """``value`` as text an XML 1.0 parser reads back unchanged.

    Forbidden characters are dropped, and line ends become ``\\n`` because a parser normalises
    ``\\r\\n`` and ``\\r`` in element text anyway: doing it here means what is written is what is read.
    """
    text = _FORBIDDEN.sub("", _text(value))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def render_junit(document: Mapping[str, Any], samples: Iterable[Mapping[str, Any]]) -> str:
    """The whole junit.xml, with its XML declaration, as one string."""
    root = ET.Element("testsuites", name="llmeval")
    records = view.latest_samples(samples)
    for model, suite in _suite_keys(document, records):
        root.append(_testsuite(document, model, suite, [r for r in records if _owner(r) == (model, suite)]))
    for counter in ("tests", "failures", "errors"):
        root.set(counter, str(sum(int(s.get(counter, "0")) for s in root)))
    duration = view.run(document).get("duration_s")
    if duration is not None:
        root.set("time", _text(duration))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | os.PathLike[str], document: Mapping[str, Any],
                samples: Iterable[Mapping[str, Any]]) -> None:
    """``render_junit`` into ``path`` atomically: a CI server reading it never sees half a file."""
    write_atomic(path, render_junit(document, samples))


def sample_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A sample's (name, value) pairs, for its testcase here and for pytest's own ``--junitxml``."""
    pairs = [(name, record.get(name)) for name in ("model", "suite", "subject", "id", "version", "target", "extracted")]
    pairs += [("rule", record.get("rule")), ("unparsed", bool(record.get("unparsed")))]
    pairs += [("correct", record.get("correct")), ("latency_s", record.get("latency_s")), ("tokens", _tokens(record))]
    pairs.append(("outcome", _outcome(record)))
    if record.get("rejected"):
        pairs.append(("rejected", record["rejected"]))
    return [(name, clean_xml_text(value)) for name, value in pairs]


def suite_properties(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's verdict and each row's score, interval, threshold, n and unparsed share (with a
    baseline also its delta and p), named ``score:{model}:{suite}.{subject}`` and ``score:{model}:{suite}.group.{name}``:
    pytest's junit has one global ``<properties>``, so each name says which row it is."""
    pairs: list[tuple[str, object]] = []
    verdict = _verdict(document)
    if verdict is not None:
        pairs.append(("verdict", "passed" if verdict else "failed"))
    comparisons = view.comparisons(document, "comparisons")
    for row in view.rows(document):
        model, suite, kind, name = view.row_key(row)
        label = f"{model}:{_classname(suite, kind, name)}"
        pairs += _row_properties(row, label, comparisons.get(view.row_key(row)))
    return [(name, clean_xml_text(value)) for name, value in pairs]


# -- one <testsuite> -------------------------------------------------------------------------


def _testsuite(document: Mapping[str, Any], model: str, suite: str, records: list[Mapping[str, Any]]) -> ET.Element:
    element = ET.Element("testsuite", name=clean_xml_text(f"{model}: {suite}"))
    rows = [row for row in view.rows(document) if view.row_key(row)[:2] == (model, suite)]
    element.append(_suite_properties_element(document, model, suite, rows))
    cases = [_sample_case(record) for record in sorted(records, key=_sample_order)]
    cases += [_score_case(document, row) for row in rows]
    element.extend(cases)
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(case.find("failure") is not None for case in cases)))
    element.set("errors", str(sum(case.find("error") is not None for case in cases)))
    element.set("skipped", "0")
    return element


def _suite_properties_element(document: Mapping[str, Any], model: str, suite: str,
                              rows: list[Mapping[str, Any]]) -> ET.Element:
    pairs: list[tuple[str, object]] = [("model", model), ("suite", suite)]
    tool = (view.run(document).get("versions") or {}).get("pytest_llmeval")
    if tool is not None:
        pairs.append(("version", tool))
    comparisons = view.comparisons(document, "comparisons")
    for row in rows:
        _, _, kind, name = view.row_key(row)
        label = name if kind == "subject" else f"group:{name}"
        pairs += _row_properties(row, label, comparisons.get(view.row_key(row)))
        pairs.append((f"version:{label}", row.get("version")))
    return _properties(pairs)


def _row_properties(row: Mapping[str, Any], label: str,
                    comparison: Mapping[str, Any] | None) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        (f"score:{label}", row.get("score")), (f"ci:{label}", _interval(row)),
        (f"threshold:{label}", row.get("threshold")), (f"n:{label}", row.get("n")),
    ]
    if row.get("unparsed") is not None:
        pairs.append((f"unparsed:{label}", row.get("unparsed_share")))
    if row.get("max_unparsed") is not None:
        pairs.append((f"max_unparsed:{label}", row.get("max_unparsed")))
    if comparison is not None and comparison.get("status") == "compared":
        pairs += [(f"delta:{label}", comparison.get("delta")), (f"p:{label}", comparison.get("p_value"))]
    return pairs


# -- testcases -------------------------------------------------------------------------------


def _sample_case(record: Mapping[str, Any]) -> ET.Element:
    case = _testcase(_classname(_str(record, "suite"), "subject", _str(record, "subject")), _str(record, "id"))
    if record.get("latency_s") is not None:
        case.set("time", _text(record["latency_s"]))
    case.append(_properties(sample_properties(record)))
    outcome = _outcome(record)
    if outcome == "error":
        message = clean_xml_text(record.get("error") or "backend error")
        error = ET.SubElement(case, "error", message=_first_line(message), type="llmeval.error")
        error.text = message
    if outcome != "pass":
        ET.SubElement(case, "system-out").text = _exchange(record)
    return case


def _score_case(document: Mapping[str, Any], row: Mapping[str, Any]) -> ET.Element:
    model, suite, kind, name = view.row_key(row)
    case = _testcase(_classname(suite, kind, name), "score")
    names = ("score", "ci_low", "ci_high", "threshold", "passed", "n", "correct", "errors", "unparsed",
             "unparsed_share", "max_unparsed", "version")
    case.append(_properties([("model", model), *((name, row.get(name)) for name in names)]))
    reasons = _failure_reasons(document, row)
    if reasons:
        ET.SubElement(case, "failure", message=clean_xml_text("; ".join(reasons)), type="llmeval.score")
    return case


def _failure_reasons(document: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    """Why a row fails, one short clause each: below its threshold, too many unparsed replies, regressed."""
    reasons = [] if row.get("passed", True) else [_threshold_reason(row, _gate(document))]
    if row.get("unparsed_passed") is False:
        reasons.append(f"unparsed {view.number(row.get('unparsed_share'))} > limit {view.number(row.get('max_unparsed'))} "
                       f"({row.get('unparsed')} of {row.get('n')} replies had no readable answer)")
    regression = view.comparisons(document, "regressions").get(view.row_key(row))
    if regression is not None:
        reasons.append(_regression_reason(regression))
    return reasons


def _threshold_reason(row: Mapping[str, Any], gate: str) -> str:
    threshold, score = row.get("threshold"), row.get(gate)
    if score is None:
        return f"no scored samples, needs {view.number(threshold)} (n={row.get('n')}, errors={row.get('errors')})"
    what = "ci_low" if gate == "ci_low" else "score"
    return f"{what} {view.number(score)} < threshold {view.number(threshold)} (n={row.get('n')})"


def _regression_reason(comparison: Mapping[str, Any]) -> str:
    return (f"regressed against {comparison.get('baseline_model')}: delta {view.number(comparison.get('delta'), '+.3f')} "
            f"({view.number(comparison.get('score'))} vs {view.number(comparison.get('baseline_score'))} "
            f"over {comparison.get('n_paired')} paired), p={_text(comparison.get('p_value'))}")


def _testcase(classname: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=clean_xml_text(classname), name=clean_xml_text(name), time="0")


def _properties(pairs: Iterable[tuple[str, object]]) -> ET.Element:
    element = ET.Element("properties")
    for name, value in pairs:
        ET.SubElement(element, "property", name=clean_xml_text(name), value=clean_xml_text(value))
    return element


def _exchange(record: Mapping[str, Any]) -> str:
    """The prompt and the reply, each cut to ``OUTPUT_CHARS``: enough to see what went wrong
    without a miss-heavy run's junit.xml growing to the size of its samples.jsonl."""
    prompt, reply = _truncate(_text(record.get("prompt"))), _truncate(_text(record.get("reply")))
    return clean_xml_text(f"prompt:\n{prompt}\n\nreply:\n{reply}")


# -- reading the document and the records ----------------------------------------------------







def _verdict(document: Mapping[str, Any]) -> bool | None:
    verdict = document.get("verdict")
    return None if not verdict else bool(verdict.get("passed"))


def _gate(document: Mapping[str, Any]) -> str:
    return "ci_low" if (view.run(document).get("options") or {}).get("gate") == "ci_low" else "score"



def _owner(record: Mapping[str, Any]) -> tuple[str, str]:
    return (_str(record, "model"), _str(record, "suite"))


def _suite_keys(document: Mapping[str, Any], records: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Every (model, suite) with a row or a sample: models in run order, suites by name."""
    keys = {view.row_key(row)[:2] for row in view.rows(document)} | {_owner(r) for r in records}
    order = [m.get("name") for m in view.run(document).get("models") or []]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))


def _sample_order(record: Mapping[str, Any]) -> tuple[list[_Part], list[_Part]]:
    """By subject, then id in natural order (q2 before q10): the file does not depend on arrival order."""
    return (_natural(_str(record, "subject")), _natural(_str(record, "id")))


def _natural(text: str) -> list[_Part]:
    # split() with a group alternates: other characters at even places, ASCII digit runs at odd ones.
    return [(0, int(part), "") if i % 2 else (1, 0, part) for i, part in enumerate(_DIGITS.split(text))]


def _outcome(record: Mapping[str, Any]) -> str:
    if record.get("error"):
        return "error"
    return "pass" if record.get("correct") else "miss"


def _tokens(record: Mapping[str, Any]) -> int | None:
    counts = [record.get("prompt_tokens"), record.get("completion_tokens")]
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


def _classname(suite: str, kind: str, name: str) -> str:
    return f"{suite}.{name}" if kind == "subject" else f"{suite}.group.{name}"


# -- text ------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """A property value: empty for None, ``true``/``false``, floats to 6 significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _str(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return "" if value is None else str(value)


def _interval(row: Mapping[str, Any]) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    return "" if low is None or high is None else f"[{_text(low)}, {_text(high)}]"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _truncate(text: str, limit: int = OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"
