"""Request bodies from a template, and dotted paths into JSON replies, for the ``http`` backend.

A body template is plain YAML data (the profile's ``body:``). Its string leaves may hold
placeholders, filled for every request:

    {prompt}        the chat messages as one raw text (see ``PromptFormat``)
    {messages}      the chat messages as a list of {"role", "content"} objects
    {model}         the profile's model name
    {max_tokens}    the number of tokens to generate (an integer)
    {temperature}   the sampling temperature (a number; 0 means greedy)
    {sampling_temperature}  the temperature when sampling, null when greedy
    {do_sample}     true when the temperature is above 0
    {stop}          the stop strings (a list, possibly empty)
    {stream}        true when the backend reads the reply as server-sent events

A leaf that is exactly one placeholder becomes the value with its JSON type (``"{max_tokens}"``
is the number 64, ``"{stop}"`` a list), and a mapping entry whose value comes out null is left
out of the body: TGI and MindIE refuse a temperature of 0, so their presets send
``temperature: "{sampling_temperature}"`` and greedy requests carry no temperature at all. A
placeholder inside longer text is written as text (``"Question: {prompt}"``, non-strings as JSON);
``{{`` and ``}}`` are literal braces. Keys are never templated.

Templates are checked when the backend is built, so a misspelt placeholder is one ConfigError
line naming the key, not an error on every sample.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from ...messages import Message, render_messages_text

__all__ = ["MISSING", "PLACEHOLDERS", "BodyTemplate", "PromptFormat", "check_path", "dotted_get", "fill", "merge"]

PLACEHOLDERS = frozenset({"prompt", "messages", "model", "max_tokens", "temperature", "sampling_temperature",
                          "do_sample", "stop", "stream"})
PROMPT_FIELDS = frozenset({"text", "system", "user"})
MISSING: Any = object()  # what ``dotted_get`` returns for a path that is not there
_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class _Value:
    """A leaf that is exactly one placeholder: replaced by the value itself, type and all."""

    name: str


@dataclass(frozen=True, slots=True)
class _Text:
    """A leaf with text around its placeholders: ``(literal, placeholder or None)`` pairs."""

    parts: tuple[tuple[str, str | None], ...]


def _parse(text: str, key: str, allowed: frozenset[str]) -> list[tuple[str, str | None]]:
    """Python format syntax, limited to bare names from ``allowed``; ConfigError naming ``key``."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        why = f"invalid template {text!r} ({exc}); write {{{{ and }}}} for literal braces"
        raise ConfigError(why, key=key) from None
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and name not in allowed:
            known = ", ".join(f"{{{n}}}" for n in sorted(allowed))
            raise ConfigError(f"unknown placeholder {{{name}}} (expected one of {known})", key=key)
        if spec or conversion:
            raise ConfigError(f"a placeholder is a bare name such as {{{name}}}, got {text!r}", key=key)
        parts.append((literal, name))
    return parts


def _compile(node: Any, key: str, allowed: frozenset[str]) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _compile(v, f"{key}.{k}", allowed) for k, v in node.items()}
    if isinstance(node, list):
        return [_compile(v, f"{key}.{i}", allowed) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    parts = _parse(node, key, allowed)
    if len(parts) == 1 and parts[0][0] == "" and parts[0][1] is not None:
        return _Value(parts[0][1])
    if any(name for _, name in parts):
        return _Text(tuple(parts))
    return "".join(literal for literal, _ in parts)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _render(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, _Value):
        return values[node.name]
    if isinstance(node, _Text):
        return "".join(literal + (_as_text(values[name]) if name else "") for literal, name in node.parts)
    if isinstance(node, dict):
        rendered = {k: _render(v, values) for k, v in node.items()}
        return {k: v for k, v in rendered.items() if not (v is None and isinstance(node[k], _Value))}
    if isinstance(node, list):
        return [_render(v, values) for v in node]
    return node


class BodyTemplate:
    """A checked request-body template; ``render`` is pure, so one template serves every thread."""

    def __init__(self, template: Mapping[str, Any], key: str = "options.body") -> None:
        self._root = _compile(template, key, PLACEHOLDERS)

    def render(self, values: Mapping[str, Any]) -> Any:
        return _render(self._root, values)


class PromptFormat:
    """How ``{prompt}`` writes the chat messages as one raw text, for endpoints that take text.

    The default, ``{text}``, is the prompt exactly as ``samples.jsonl`` records it: the message
    contents, system first, joined by blank lines. ``{system}`` is the system message's content
    (empty without one) and ``{user}`` the other messages' contents, so a chat template can be
    written around them: ``"<|im_start|>user\\n{user}<|im_end|>\\n<|im_start|>assistant\\n"``.
    """

    def __init__(self, template: str, key: str = "options.prompt_template") -> None:
        self._parts = _parse(template, key, PROMPT_FIELDS)

    def __call__(self, messages: Sequence[Message]) -> str:
        fields = {
            "text": render_messages_text(messages),
            "system": "\n\n".join(m["content"] for m in messages if m.get("role") == "system"),
            "user": "\n\n".join(m["content"] for m in messages if m.get("role") != "system"),
        }
        return "".join(literal + (fields[name] if name else "") for literal, name in self._parts)


def fill(text: str, key: str, values: Mapping[str, str]) -> str:
    """``text`` with its placeholders (only the names in ``values``) replaced, checked like a body."""
    return "".join(literal + (values[name] if name else "") for literal, name in _parse(text, key, frozenset(values)))


def check_path(path: str, key: str) -> str:
    """A dotted path such as ``choices.0.text``: non-empty parts, or a ConfigError naming ``key``."""
    if not path or any(not part for part in path.split(".")):
        raise ConfigError(f"expected a dotted path such as 'generated_text' or 'choices.0.text', got {path!r}", key=key)
    return path


def dotted_get(data: Any, path: str) -> Any:
    """The value at ``path`` (mapping keys, and list indexes written as numbers), or ``MISSING``."""
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.lstrip("-").isdigit() and -len(data) <= int(part) < len(data):
            data = data[int(part)]
        else:
            return MISSING
    return data


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: nested mappings merge, anything else in ``extra`` wins."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = merge(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged
