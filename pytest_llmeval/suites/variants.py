"""Variants of a sample, made at planning: each its own ``Sample`` (its own id, node id, journal
entry and result) that remembers the question it came from, so results meet again by question.

Circular evaluation (``circular:``, OpenCompass's CircularEval) asks a multiple-choice question
once per rotation of its options: rotation ``k`` puts the option that was at position ``i + k``
at position ``i``, so the right answer visits a different letter in every rotation. A model that
picks "A" when unsure, or that only knows the answer in one order, stops scoring by luck.

Perturbation (``perturb:``) asks each question as it is (variant ``orig``) and once per named
transform: ``shuffle_options`` (a seeded permutation of the options, never the original order),
``whitespace`` (every space in ``{question}`` doubled, a trailing space), ``case`` (``{question}``
upper- or lower-cased), ``typo`` (each letter of ``{question}`` swapped with the next with
probability ``rate``, at least one swap), ``distractor_sentence`` (an irrelevant sentence after
``{question}``) and ``prompt_variant`` (each alternative template). Every random choice comes from
a ``random.Random`` seeded with crc32 of the seed, suite, subject, question id and transform, so a
variant is the same on every run and every xdist worker, and unchanged when other rows change.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import replace

from ..errors import ConfigError
from ..samples import Sample
from .schema import CircularConfig, PerturbConfig

__all__ = ["circular_variants", "perturb_variants", "reordered", "rotate", "rotation_id", "shuffle_permutation"]

ORIGINAL = "orig"


def rotation_id(question: str, shift: int) -> str:
    """``12`` rotated by 1 is ``12-rot1``: the node id carries the rotation, so ``-k rot0`` selects
    one rotation of every question and ``--deselect`` names one rotation of one question."""
    return f"{question}-rot{shift}"


def rotate(sample: Sample, shift: int, count: int) -> Sample:
    """The sample with its options rotated left by ``shift``: the option texts, the lettered fields
    (``{A}``..), and the answer (``target``, ``{answer}``, ``{target}``) follow; other columns stay."""
    n = len(sample.choices)
    return replace(reordered(sample, [(i + shift) % n for i in range(n)]), id=rotation_id(sample.id, shift),
                   question=sample.id, variant=f"rot{shift}", variants=count)


def reordered(sample: Sample, perm: list[int]) -> Sample:
    """The sample showing original option ``perm[i]`` at position ``i``; the answer follows its text."""
    labels = sample.labels
    assert sample.target is not None and sample.target in labels  # checked letters only reach here
    target = labels[perm.index(labels.index(sample.target))]
    choices = tuple(sample.choices[p] for p in perm)
    fields = dict(sample.fields)
    fields.update(zip(labels, choices))
    fields.update({key: target for key in ("answer", "target") if key in fields})
    return replace(sample, fields=fields, target=target, choices=choices)


def circular_variants(samples: list[Sample], circular: CircularConfig | None) -> list[Sample]:
    """Each sample followed by its rotations (the identity first); unchanged without ``circular:``."""
    if circular is None:
        return samples
    out: list[Sample] = []
    for sample in samples:
        count = circular.count(len(sample.choices))
        out.extend(rotate(sample, shift, count) for shift in range(count))
    return out


def perturb_variants(samples: list[Sample], perturb: PerturbConfig | None, salt: str, where: str) -> list[Sample]:
    """Each sample as it is (``<id>-orig``), then one variant per transform (``<id>-typo``)."""
    if perturb is None:
        return samples
    names = perturb.transforms()
    out: list[Sample] = []
    for sample in samples:
        variants = [_variant(sample, ORIGINAL, sample, len(names) + 1)]
        variants += [_variant(sample, name, _perturbed(sample, name, perturb, salt, where), len(names) + 1)
                     for name in names]
        out.extend(variants)
    return out


def _variant(sample: Sample, name: str, changed: Sample, count: int) -> Sample:
    variant = name
    if name == "shuffle_options":  # the permutation rides in the name: the answer is mapped back by it
        variant = f"{name}:{changed.variant}"
    return replace(changed, id=f"{sample.id}-{name}", question=sample.id, variant=variant, variants=count)


def _rng(perturb: PerturbConfig, salt: str, sample: Sample, name: str) -> random.Random:
    """crc32, not ``hash()``: the same in every process, so xdist workers make the same variant."""
    return random.Random(zlib.crc32(f"{perturb.seed}/{salt}/{sample.id}/{name}".encode()))


def _perturbed(sample: Sample, name: str, perturb: PerturbConfig, salt: str, where: str) -> Sample:
    rng = _rng(perturb, salt, sample, name)
    if name == "shuffle_options":
        return _shuffled(sample, rng)
    if name.startswith("prompt_variant"):
        return replace(sample, template=perturb.prompt_variant[int(name.removeprefix("prompt_variant")) - 1])
    question = sample.fields.get("question")
    if not isinstance(question, str):
        raise ConfigError(f"the data has no {{question}} text to perturb (sample {sample.id!r})", where=where,
                          key=f"perturb.{name}")
    text = _text(name, question, perturb, rng)
    return replace(sample, fields={**sample.fields, "question": text})


def _text(name: str, question: str, perturb: PerturbConfig, rng: random.Random) -> str:
    if name == "whitespace":
        return question.replace(" ", "  ") + " "
    if name == "case":
        return question.upper() if perturb.case == "upper" else question.lower()
    if name == "typo":
        assert perturb.typo is not None
        return typos(question, perturb.typo.rate, rng)
    assert perturb.distractor_sentence is not None
    return f"{question.rstrip()} {perturb.distractor_sentence}"


def typos(text: str, rate: float, rng: random.Random) -> str:
    """Each letter followed by another letter swaps with it with probability ``rate``; at least
    one pair swaps when the text has one, so the variant always differs from the original."""
    chars = list(text)
    pairs = [i for i in range(len(chars) - 1) if chars[i].isalpha() and chars[i + 1].isalpha() and chars[i] != chars[i + 1]]
    chosen = [i for i in pairs if rng.random() < rate] or ([rng.choice(pairs)] if pairs else [])
    last = -2
    for i in chosen:
        if i > last + 1:  # never swap a letter twice
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            last = i
    return "".join(chars)


def shuffle_permutation(n: int, rng: random.Random) -> list[int]:
    """A permutation of ``range(n)`` other than the identity (when ``n`` > 1): position ``i``
    shows original option ``perm[i]``."""
    perm = list(range(n))
    while n > 1 and perm == list(range(n)):
        rng.shuffle(perm)
    return perm


def _shuffled(sample: Sample, rng: random.Random) -> Sample:
    """The options in a seeded order; ``variant`` holds the original letters in shown order (``CADB``)."""
    perm = shuffle_permutation(len(sample.choices), rng)
    return replace(reordered(sample, perm), variant="".join(sample.labels[p] for p in perm))
