"""Model profiles: ``llm_models.yaml`` maps a short name onto backend settings.

With a profile, ``--llm-model=glm-4-flash`` is enough on the command line. Command-line options
still win over a profile, so one profile serves several endpoints. A built-in ``smollm2`` profile
names the bundled offline model, which is also the default when no model is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .backends.base import BackendSettings
from .errors import ConfigError
from .options import RunOptions
from .yamlfile import load_validated

__all__ = ["BUILTIN_PROFILES", "ModelSpec", "resolve_models"]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 2
DEFAULT_MAX_TOKENS = 256
DEFAULT_CONCURRENCY = 8


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    model_path: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    stop: list[str] = Field(default_factory=list)
    rate: float | None = Field(default=None, gt=0)  # requests/s for the endpoint, all processes together
    tokens_per_minute: int | None = Field(default=None, gt=0)  # prompt + completion tokens, shared likewise
    concurrency: int | None = Field(default=None, ge=1)  # requests in flight per process
    options: dict[str, Any] = Field(default_factory=dict)


class ProfilesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    models: dict[str, Profile] = Field(default_factory=dict)


BUILTIN_PROFILES: dict[str, Profile] = {
    "smollm2": Profile(backend="llamacpp", model="SmolLM2-135M-Instruct"),
}


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model under evaluation: the name users see (and ``-k`` matches) and how to reach it.

    ``generation_fixed`` lists the generation keys the user pinned for this run (command line
    or profile); suites only fill in the others.
    """

    name: str
    settings: BackendSettings
    generation_fixed: frozenset[str]
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None
    tokens_per_minute: int | None = None

    def public(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": self.name,
            "backend": s.backend,
            "model": s.model,
            "base_url": s.base_url,
            "api_key_env": s.api_key_env,
            "model_path": s.model_path,
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "tokens_per_minute": self.tokens_per_minute,
        }


def _load_profiles(files: list[Path]) -> tuple[dict[str, Profile], str | None]:
    profiles = dict(BUILTIN_PROFILES)
    default: str | None = None
    for path in reversed(files):  # earlier files win
        loaded = load_validated(path, ProfilesFile)
        profiles.update(loaded.models)
        default = loaded.default or default
    return profiles, default


def _spec(name: str, profile: Profile | None, opts: RunOptions) -> ModelSpec:
    base = profile or Profile(backend=opts.backend or "openai", model=name)
    fixed = {k for k in ("max_tokens", "temperature", "stop") if profile and getattr(profile, k)}
    fixed |= {k for k in ("max_tokens", "temperature") if getattr(opts, k) is not None}
    settings = BackendSettings(
        backend=opts.backend or base.backend,
        model=base.model or name,
        base_url=opts.base_url or base.base_url,
        api_key_env=opts.api_key_env or base.api_key_env,
        timeout_s=opts.timeout_s or base.timeout or DEFAULT_TIMEOUT_S,
        retries=opts.retries if opts.retries is not None else (base.retries if base.retries is not None else DEFAULT_RETRIES),
        max_tokens=opts.max_tokens or base.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=opts.temperature if opts.temperature is not None else (base.temperature or 0.0),
        stop=tuple(base.stop),
        model_path=base.model_path,
        extra=dict(base.options),
    )
    return ModelSpec(
        name=name, settings=settings, generation_fixed=frozenset(fixed),
        concurrency=opts.concurrency or base.concurrency or DEFAULT_CONCURRENCY,
        rate=opts.rate or base.rate, tokens_per_minute=opts.tokens_per_minute or base.tokens_per_minute,
    )


def resolve_models(opts: RunOptions, files: list[Path]) -> list[ModelSpec]:
    """The models of this run, from ``--llm-model`` names, profiles and command-line overrides."""
    profiles, default = _load_profiles(files)
    names = list(opts.models) or [default or "smollm2"]
    if not opts.models and default and default not in profiles:
        raise ConfigError(f"default: no model profile named {default!r}", where=str(files[0]) if files else None)
    return [_spec(name, profiles.get(name), opts) for name in names]
