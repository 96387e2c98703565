"""From a sample to what the backend sees: chat messages for ``gen``, context and continuations for ``ll``.

Templates use Python's ``{field}`` syntax (``{{`` for a literal brace) over the sample's fields,
plus ``subject`` (readable: underscores become spaces), ``subject_id`` and ``choices`` (the lettered
options, one per line). Few-shot examples are rendered with the same template followed by their
answer, so the model sees the exact shape it must continue.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .messages import Message, render_messages_text
from .samples import Sample

__all__ = ["PromptSpec", "render_messages_text", "template_fields", "validate_template"]

_FORMATTER = string.Formatter()


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def template_fields(sample: Sample) -> dict[str, Any]:
    values: dict[str, Any] = {"subject": sample.subject.replace("_", " "), "subject_id": sample.subject}
    values.update(sample.fields)
    values["target"] = sample.target if sample.target is not None else ""
    if sample.choices:  # the rendered block wins over a raw list column of the same name
        values["choices"] = "\n".join(f"{label}. {text}" for label, text in zip(sample.labels, sample.choices))
    return values


def _render(template: str, key: str, sample: Sample) -> str:
    fields = _Fields(template_fields(sample))
    try:
        return _FORMATTER.vformat(template, (), fields)
    except KeyError as exc:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"unknown field {{{exc.args[0]}}} (fields: {known})", key=key) from None
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"invalid template ({exc}); write {{{{ and }}}} for literal braces", key=key) from None


def validate_template(template: str, key: str, sample: Sample) -> None:
    """Fail at collection, not after the first request, when a template names a missing field."""
    _render(template, key, sample)


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """A suite's prompt settings; ``examples`` are the few-shot samples for one subject."""

    prompt: str
    system: str | None = None
    preamble: str | None = None
    target_delimiter: str = " "
    answer: str | None = None
    separator: str = "\n\n"

    def _answer(self, example: Sample) -> str:
        if self.answer is not None:
            return _render(self.answer, "few_shot.answer", example)
        return f"{self.target_delimiter}{example.target or ''}"

    def text(self, sample: Sample, examples: Sequence[Sample] = ()) -> str:
        """The whole raw-text prompt: preamble, answered examples, then the question."""
        parts = [_render(self.preamble, "preamble", sample)] if self.preamble else []
        parts += [_render(self.prompt, "prompt", ex) + self._answer(ex) + self.separator for ex in examples]
        parts.append(_render(self.prompt, "prompt", sample))
        return "".join(parts)

    def messages(self, sample: Sample, examples: Sequence[Sample] = ()) -> tuple[Message, ...]:
        user: Message = {"role": "user", "content": self.text(sample, examples)}
        if self.system:
            return ({"role": "system", "content": _render(self.system, "system", sample)}, user)
        return (user,)

    def continuations(self, labels: str) -> tuple[str, ...]:
        """What ``ll`` mode scores after the context: the delimiter and each option letter."""
        return tuple(f"{self.target_delimiter}{label}" for label in labels)

