"""The run's secrets, and the one scrubber every text from outside passes through.

A key must never reach a file or the terminal, even when a server echoes it back inside a 200
reply (some proxies and debugging servers do). Rather than trusting each writer (samples.jsonl,
results.json, report.html, junit.xml, the step summary, the journal, the baseline, the terminal),
text is scrubbed where it enters the plugin's records:

- the engine scrubs every outcome (reply text and its extra fields, error messages, refusal
  reasons) before it is journaled or handed to an item (``engine.dispatch``);
- each sample's result is scrubbed once more as it is attached to its report (``attach``), which
  covers what a Python test put there itself (its error message, its prompt).

Everything written later is rendered from those records, so it is clean by construction.

The secrets are the values of the variables the run's models name: each ``api_key_env`` (the
bearer key the ``openai`` backend sends) and each ``${VAR}`` in an ``http`` profile's headers.
Values shorter than ``MIN_SECRET`` characters are left alone: replacing a 3-letter "key" in every
reply would change what is scored. A secret is replaced by ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .profiles import ModelSpec

__all__ = ["ENV_REFERENCE", "MIN_SECRET", "MASK", "Scrubber", "secrets_of"]

MIN_SECRET = 8
MASK = "***"
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # ${VAR}: a secret named, never written


def secrets_of(models: Iterable[ModelSpec]) -> list[str]:
    """The values of every environment variable the models read a credential from."""
    names: set[str] = set()
    for model in models:
        settings = model.settings
        if settings.api_key_env:
            names.add(settings.api_key_env)
        headers = settings.extra.get("headers")
        if isinstance(headers, dict):
            for value in headers.values():
                names.update(ENV_REFERENCE.findall(str(value)))
    return [value for value in (os.environ.get(name, "") for name in sorted(names)) if value]


@dataclass(frozen=True, slots=True)
class Scrubber:
    """Replaces each secret (longest first, so none is left half-replaced) with ``***``."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str]) -> Scrubber:
        kept = {v for v in values if len(v) >= MIN_SECRET}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def value(self, value: Any) -> Any:
        """Strings anywhere inside ``value`` (dicts, lists, tuples) scrubbed; the rest as is."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def error(self, exc: BaseException) -> None:
        """Scrub an exception's message in place (its class, and so its meaning, is kept)."""
        exc.args = tuple(self.value(arg) for arg in exc.args)
        if isinstance(getattr(exc, "reason", None), str):
            exc.reason = self.text(exc.reason)  # type: ignore[attr-defined]
