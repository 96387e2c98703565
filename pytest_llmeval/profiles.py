"""Model profiles: ``llm_models.yaml`` maps a short name onto backend settings.

With a profile, ``--llm-model=glm-4-flash`` is enough on the command line. Command-line options
still win over a profile, so one profile serves several endpoints. A built-in ``smollm2`` profile
names the bundled offline model, which is also the default when no model is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .backends.base import BackendSettings
from .errors import ConfigError
from .options import RunOptions
from .ranges import default, ranged
from .yamlfile import load_validated

__all__ = ["BUILTIN_PROFILES", "Budget", "ModelSpec", "Price", "Profile", "load_profiles", "resolve_models"]

DEFAULT_TIMEOUT_S: float = default("timeout")
DEFAULT_RETRIES: int = default("retries")
DEFAULT_MAX_TOKENS: int = default("max_tokens")
DEFAULT_CONCURRENCY: int = default("concurrency")
_URL_BACKENDS = frozenset({"openai", "http"})  # built-in backends that reach base_url over HTTP


def url_problem(url: str, backend: str) -> str | None:
    """Why ``url`` cannot be a built-in HTTP backend's base_url, or None. Without a scheme the
    client would fail on every request, with a message about the request rather than the setting."""
    if backend not in _URL_BACKENDS:
        return None  # a backend of your own may reach its server by any scheme
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return f"expected an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1, got {url!r}"


def _concurrency() -> Any:
    """The profile's ``concurrency:``: ``auto``, or a number checked like ``--llm-concurrency``."""
    from pydantic import BeforeValidator

    number = ranged("concurrency").func
    return BeforeValidator(lambda value: value if value == "auto" else number(value))


class Price(BaseModel):
    """What the provider charges, per million tokens, in ``currency`` (an ISO 4217 code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: Annotated[float, ranged("price_per_mtok")]
    output_per_mtok: Annotated[float, ranged("price_per_mtok")]
    currency: str

    @field_validator("currency")
    @classmethod
    def _code(cls, value: str) -> str:
        if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
            raise ValueError(f"expected a currency code of three capital letters, e.g. USD, got {value!r}")
        return value

    def record(self) -> dict[str, Any]:
        return {"input_per_mtok": self.input_per_mtok, "output_per_mtok": self.output_per_mtok,
                "currency": self.currency}


class Budget(BaseModel):
    """The most this model may spend in one run, all processes together (``engine/budget.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: Annotated[int | None, ranged("budget_tokens")] = None
    cost: Annotated[float | None, ranged("budget_cost")] = None  # in the profile's price currency


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    model_path: str | None = None
    timeout: Annotated[float | None, ranged("timeout")] = None
    retries: Annotated[int | None, ranged("retries")] = None
    max_tokens: Annotated[int | None, ranged("max_tokens")] = None
    temperature: Annotated[float | None, ranged("temperature")] = None
    stop: list[str] = Field(default_factory=list)
    rate: Annotated[float | None, ranged("rate")] = None  # requests/s for the endpoint, all processes together
    tokens_per_minute: Annotated[int | None, ranged("tokens_per_minute")] = None  # prompt + completion tokens, shared likewise
    concurrency: Annotated[int | Literal["auto"] | None, _concurrency()] = None  # requests in flight per process, or auto
    stream: bool | None = None  # stream replies to time their tokens, as --llm-stream does
    price: Price | None = None  # per million tokens, for the run's cost and cost budgets
    budget: Budget | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("budget")
    @classmethod
    def _priced(cls, value: Budget | None, info: ValidationInfo) -> Budget | None:
        if value is not None and value.cost is not None and info.data.get("price") is None:
            raise ValueError("a cost budget needs the model's price: add price: {input_per_mtok: ..., "
                             "output_per_mtok: ..., currency: ...}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        why = url_problem(value, str(info.data.get("backend", "openai"))) if value is not None else None
        if why:
            raise ValueError(why)
        return value


class ProfilesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    models: dict[str, Profile] = Field(default_factory=dict)


BUILTIN_PROFILES: dict[str, Profile] = {
    "smollm2": Profile(backend="llamacpp", model="SmolLM2-135M-Instruct"),
    # Hosted APIs. A rate is set only where the provider publishes one for every account; the engine
    # honours 429s and Retry-After in any case. docs/model-profiles.md has the sources.
    # OpenAI usage tier 1 (the lowest paid tier) for gpt-4o-mini: 500 requests and 200,000 tokens a minute.
    # Prices per million tokens as published on 2026-12-07 (docs/model-profiles.md has the pages).
    "gpt-4o-mini": Profile(model="gpt-4o-mini", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY",
                           rate=500 / 60, tokens_per_minute=200_000,
                           price=Price(input_per_mtok=0.15, output_per_mtok=0.60, currency="USD")),
    # ZhipuAI limits in-flight requests per account and model (shown in its console; 1302 when exceeded).
    "glm-4-flash": Profile(model="glm-4-flash", base_url="https://open.bigmodel.cn/api/paas/v4/",
                           api_key_env="ZHIPUAI_API_KEY",
                           price=Price(input_per_mtok=0, output_per_mtok=0, currency="CNY")),  # a free model
    # InternLM (Shanghai AI Lab) API, served by LMDeploy: 10 requests a minute per user by default.
    "internlm3-latest": Profile(model="internlm3-latest", base_url="https://chat.intern-ai.org.cn/api/v1/",
                                api_key_env="INTERNLM_API_KEY", rate=10 / 60),
    "internlm2.5-latest": Profile(model="internlm2.5-latest", base_url="https://chat.intern-ai.org.cn/api/v1/",
                                  api_key_env="INTERNLM_API_KEY", rate=10 / 60),
    # SiliconFlow's free Qwen2.5-7B; chat models get 1,000-10,000 requests and 50,000-5,000,000 tokens a
    # minute by account level: the floor of both.
    "siliconflow-qwen2.5-7b": Profile(model="Qwen/Qwen2.5-7B-Instruct", base_url="https://api.siliconflow.cn/v1",
                                      api_key_env="SILICONFLOW_API_KEY", rate=1000 / 60, tokens_per_minute=50_000),
    # DeepSeek states that it does not rate-limit API users.
    # Charged at the cache-miss input price (0.28; a cache hit costs 0.028): an upper bound.
    "deepseek-chat": Profile(model="deepseek-chat", base_url="https://api.deepseek.com",
                             api_key_env="DEEPSEEK_API_KEY",
                             price=Price(input_per_mtok=0.28, output_per_mtok=0.42, currency="USD")),
    # Local servers at their default ports. model "auto": the one model the server lists at GET /v1/models.
    "vllm": Profile(model="auto", base_url="http://127.0.0.1:8000/v1"),
    "lmdeploy": Profile(model="auto", base_url="http://127.0.0.1:23333/v1"),
    # llama.cpp's llama-server; repeat_penalty 1.0 is plain greedy decoding, as in the llamacpp backend
    "llamacpp-server": Profile(model="auto", base_url="http://127.0.0.1:8080/v1",
                               options={"extra_body": {"repeat_penalty": 1.0}}),
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
    concurrency: int | Literal["auto"] = DEFAULT_CONCURRENCY
    rate: float | None = None
    tokens_per_minute: int | None = None
    price: Price | None = None
    budget: Budget | None = None  # the profile's own budget (the command line's is the run's)

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
            "stream": s.stream,
            "price": self.price.record() if self.price is not None else None,
            "budget": self.budget.model_dump() if self.budget is not None else None,
        }


def load_profiles(files: list[Path]) -> tuple[dict[str, Profile], str | None]:
    """Built-in profiles overlaid by the files (earlier files win), and the files' ``default:``."""
    profiles = dict(BUILTIN_PROFILES)
    default: str | None = None
    for path in reversed(files):  # earlier files win
        loaded = load_validated(path, ProfilesFile)
        profiles.update(loaded.models)
        default = loaded.default or default
    return profiles, default


def _first(*values: Any) -> Any:
    """The first value that was given: the command line, then the profile, then the default.
    ``None`` means "not given"; 0 is a value (and the ranges table has already checked it)."""
    return next((v for v in values if v is not None), None)


def _spec(name: str, profile: Profile | None, opts: RunOptions) -> ModelSpec:
    base = profile or Profile(backend=opts.backend or "openai", model=name)
    fixed = {k for k in ("max_tokens", "temperature", "stop") if profile and getattr(profile, k) not in (None, [])}
    fixed |= {k for k in ("max_tokens", "temperature") if getattr(opts, k) is not None}
    backend = opts.backend or base.backend
    if opts.base_url is not None and (why := url_problem(opts.base_url, backend)):
        raise ConfigError(why, key="--llm-base-url")
    settings = BackendSettings(
        backend=backend,
        model=base.model or name,
        base_url=opts.base_url or base.base_url,
        api_key_env=opts.api_key_env or base.api_key_env,
        timeout_s=_first(opts.timeout_s, base.timeout, DEFAULT_TIMEOUT_S),
        retries=_first(opts.retries, base.retries, DEFAULT_RETRIES),
        max_tokens=_first(opts.max_tokens, base.max_tokens, DEFAULT_MAX_TOKENS),
        temperature=_first(opts.temperature, base.temperature, default("temperature")),
        stop=tuple(base.stop),
        model_path=base.model_path,
        extra=dict(base.options),
        stream=bool(opts.stream or base.stream or _http_streams(backend, base.options)),
    )
    return ModelSpec(
        name=name, settings=settings, generation_fixed=frozenset(fixed),
        concurrency=_first(opts.concurrency, base.concurrency, DEFAULT_CONCURRENCY),
        rate=_first(opts.rate, base.rate), tokens_per_minute=_first(opts.tokens_per_minute, base.tokens_per_minute),
        price=base.price, budget=base.budget,
    )



def _http_streams(backend: str, options: dict[str, Any]) -> bool:
    """An ``http`` profile that streams by its own options (``stream: true``, preset ``tgi-stream``)
    is timed like one run with ``--llm-stream``; ``stream: false`` there still wins over it."""
    if backend != "http":
        return False
    return options.get("stream") is True or (options.get("preset") == "tgi-stream" and options.get("stream") is not False)


def resolve_models(opts: RunOptions, files: list[Path]) -> list[ModelSpec]:
    """The models of this run, from ``--llm-model`` names, profiles and command-line overrides."""
    profiles, default = load_profiles(files)
    names = list(opts.models) or [default or "smollm2"]
    if not opts.models and default and default not in profiles:
        raise ConfigError(f"default: no model profile named {default!r}", where=str(files[0]) if files else None)
    return [_spec(name, profiles.get(name), opts) for name in names]


def resolve_judge(name: str, opts: RunOptions, files: list[Path]) -> ModelSpec:
    """A judge model (``scoring.judge``, ``--llm-judge``): its profile as written, or a bare model
    name as ``--llm-model`` reads one. The command line's model overrides (``--llm-backend``,
    ``--llm-base-url``, ``--llm-max-tokens``, ``--llm-temperature``, ``--llm-stream``) are for the
    models under evaluation and do not reach the judge; the engine's (retries, timeout,
    concurrency, rate) do."""
    from dataclasses import replace

    profiles, _ = load_profiles(files)
    judge_opts = replace(opts, models=(name,), backend=None, base_url=None, api_key_env=None, max_tokens=None,
                         temperature=None, stream=False)
    return _spec(name, profiles.get(name), judge_opts)
