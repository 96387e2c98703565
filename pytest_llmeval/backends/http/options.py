"""The ``http`` backend's options (a profile's ``options:``), checked and resolved once, at construction.

Unknown keys, wrong types, unknown placeholders and bad patterns are one ConfigError line naming
``options.<key>``, so a typo never turns into an error on every sample.

Secrets live only in environment variables. A header value may name one as ``${VAR}``; it is
read here, kept in ``HTTPConfig.headers`` (never in ``BackendSettings``) and listed in
``HTTPConfig.secrets`` so every error message can be scrubbed of it. A profile's ``api_key_env``
is shorthand for the header ``Authorization: Bearer ${<api_key_env>}`` when no Authorization
header is configured. Nothing else (body, path) is searched for ``${...}``. A header whose name
says it carries a credential (Authorization, *api-key*, *token*, *secret*, *password*, cookies)
must take its value from a variable, so a key pasted into a profile is refused, not sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from ...errors import ConfigError, detail
from ..base import BackendSettings
from .presets import PRESETS, preset_defaults
from .template import BodyTemplate, PromptFormat, check_path, fill, merge

__all__ = ["HTTPConfig", "HTTPOptions", "build_config"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SENSITIVE = re.compile(r"(?i)authorization|api[-_]?key|token|secret|password|cookie")


class HTTPOptions(BaseModel):
    """Every key ``options:`` may hold for ``backend: http`` (documented in the README's table)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    preset: Literal["tgi", "tgi-stream", "triton", "mindie"] | None = None
    stream: bool | None = None
    path: str = ""
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = {}
    body: dict[str, Any] | None = None
    extra_body: dict[str, Any] = {}
    prompt_template: str = "{text}"
    reply_path: str | None = None
    stream_path: str | None = None
    stream_skip_path: str | None = None
    stream_final_path: str | None = None
    error_path: str | None = "error"
    prompt_tokens_path: str | None = None
    completion_tokens_path: str | None = None
    finish_reason_path: str | None = None
    reject_pattern: str | None = None
    fatal_pattern: str | None = None
    trim_stop: bool = True


@dataclass(frozen=True, slots=True)
class HTTPConfig:
    """Everything a request needs, resolved: the URL, real header values, compiled templates."""

    url: str
    method: str
    headers: dict[str, str]
    secrets: tuple[str, ...]
    body: BodyTemplate
    prompt: PromptFormat
    stream: bool
    reply_path: str | None
    stream_path: str | None
    stream_skip_path: str | None
    stream_final_path: str | None
    error_path: str | None
    prompt_tokens_path: str | None
    completion_tokens_path: str | None
    finish_reason_path: str | None
    reject: re.Pattern[str] | None
    fatal: re.Pattern[str] | None
    trim_stop: bool


def _validated(extra: Mapping[str, Any], stream_default: bool = False) -> HTTPOptions:
    """The profile's options over its preset's defaults; the first problem as one line.
    ``stream_default`` (``--llm-stream``) streams unless the profile says ``stream: false``."""
    raw = dict(extra)
    preset = raw.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (expected one of {', '.join(PRESETS)})", key="options.preset")
    stream = raw.get("stream", preset == "tgi-stream" or stream_default)
    if preset is not None and isinstance(stream, bool):
        raw = preset_defaults(preset, stream) | {"stream": stream} | raw
    try:
        return HTTPOptions.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in ("options", *error["loc"]))
        why = "unknown key" if error["type"] == "extra_forbidden" else error["msg"][0].lower() + error["msg"][1:]
        got = error.get("input")
        shown = "" if error["type"] == "extra_forbidden" or isinstance(got, (dict, list)) else f" (got {got!r})"
        raise ConfigError(f"{why}{shown}", key=key) from None


def _env(name: str, key: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set", key=key)
    return value


def _headers(opts: HTTPOptions, api_key_env: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Header values with ``${VAR}`` read from the environment, and the values read (to scrub)."""
    secrets: list[str] = []

    def read(variable: str, key: str) -> str:
        secrets.append(_env(variable, key))
        return secrets[-1]

    def resolve(name: str, value: str) -> str:
        return _ENV_REF.sub(lambda match: read(match.group(1), f"options.headers.{name}"), value)

    for name, value in opts.headers.items():
        if _SENSITIVE.search(name) and not _ENV_REF.search(value):
            raise ConfigError("a credential is never written in a profile: name the environment variable "
                              "that holds it, e.g. 'Bearer ${MY_TOKEN}'", key=f"options.headers.{name}")
    resolved = {name: resolve(name, value) for name, value in opts.headers.items()}
    if api_key_env and not any(name.lower() == "authorization" for name in resolved):
        resolved["Authorization"] = "Bearer " + read(api_key_env, "api_key_env")
    return resolved, tuple(sorted(set(secrets), key=len, reverse=True))


def _url(settings: BackendSettings, opts: HTTPOptions) -> str:
    if not settings.base_url:
        raise ConfigError("backend http needs the server's address, e.g. base_url: http://127.0.0.1:8080",
                          key="base_url")
    if not re.match(r"https?://[^/]", settings.base_url):
        raise ConfigError(f"expected an http:// or https:// URL, got {settings.base_url!r}", key="base_url")
    path = fill(opts.path, "options.path", {"model": quote(settings.model, safe="")})
    return settings.base_url.rstrip("/") + ("/" + path.lstrip("/") if path else "")


def _pattern(pattern: str | None, key: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid regular expression {pattern!r} ({detail(exc)})", key=key) from None


def _path(opts: HTTPOptions, name: str) -> str | None:
    value: str | None = getattr(opts, name)
    return None if value is None else check_path(value, f"options.{name}")


def _required(opts: HTTPOptions, stream: bool) -> None:
    if opts.body is None:
        raise ConfigError(f"required: a request-body template, or a preset ({', '.join(PRESETS)})", key="options.body")
    if stream and opts.stream_path is None and opts.stream_final_path is None:
        raise ConfigError("required with stream: true: the dotted path of the text in each streamed chunk, "
                          "e.g. 'token.text'", key="options.stream_path")
    if not stream and opts.reply_path is None:
        raise ConfigError("required: the dotted path of the text in the reply, e.g. 'generated_text'",
                          key="options.reply_path")


def build_config(settings: BackendSettings) -> HTTPConfig:
    """Check ``settings.extra`` and resolve it; raises ConfigError (one line, naming the key)."""
    opts = _validated(settings.extra, settings.stream)
    stream = settings.stream if opts.stream is None else opts.stream
    _required(opts, stream)
    assert opts.body is not None
    BodyTemplate(opts.extra_body, key="options.extra_body")  # its own key in errors, before merging
    headers, secrets = _headers(opts, settings.api_key_env)
    return HTTPConfig(
        url=_url(settings, opts), method=opts.method, headers=headers, secrets=secrets,
        body=BodyTemplate(merge(opts.body, opts.extra_body)), prompt=PromptFormat(opts.prompt_template),
        stream=stream, reply_path=_path(opts, "reply_path"), stream_path=_path(opts, "stream_path"),
        stream_skip_path=_path(opts, "stream_skip_path"), stream_final_path=_path(opts, "stream_final_path"),
        error_path=_path(opts, "error_path"), prompt_tokens_path=_path(opts, "prompt_tokens_path"),
        completion_tokens_path=_path(opts, "completion_tokens_path"),
        finish_reason_path=_path(opts, "finish_reason_path"),
        reject=_pattern(opts.reject_pattern, "options.reject_pattern"),
        fatal=_pattern(opts.fatal_pattern, "options.fatal_pattern"), trim_stop=opts.trim_stop,
    )
