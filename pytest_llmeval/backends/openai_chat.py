"""OpenAI-compatible chat endpoints (OpenAI, GLM, InternLM, SiliconFlow, vLLM, LMDeploy, TGI,
llama.cpp server) through the official SDK, whose retries and timeouts we configure rather than
rewrite. SDK errors are mapped into our tree here and only here.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import BackendError, ConfigError, FatalBackendError
from .base import Backend, BackendSettings, GenerateRequest, Reply

__all__ = ["OpenAIChatBackend"]


class OpenAIChatBackend(Backend):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import openai

        self._key = "EMPTY"
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if not key:
                raise ConfigError(f"environment variable {settings.api_key_env} is not set", key="api_key_env")
            self._key = key
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=settings.base_url, api_key=self._key, timeout=settings.timeout_s, max_retries=settings.retries)
        self._where = settings.base_url or "https://api.openai.com/v1"

    def _scrub(self, text: str) -> str:
        line = " ".join(str(text).split())
        if self._key and self._key != "EMPTY":
            line = line.replace(self._key, "***")
        return line[:300]

    def _map_error(self, exc: Exception) -> BackendError:
        oa, model = self._openai, self.settings.model
        status = getattr(exc, "status_code", None)
        if isinstance(exc, (oa.AuthenticationError, oa.PermissionDeniedError)):
            return FatalBackendError(f"{self._where}: the endpoint rejected the API key (HTTP {status}) for model {model!r}")
        if isinstance(exc, oa.NotFoundError):
            return FatalBackendError(f"{self._where}: model {model!r} not found (HTTP 404)")
        if isinstance(exc, oa.APITimeoutError):
            return BackendError(f"{self._where}: no reply within {self.settings.timeout_s:g} s after {self.settings.retries} retries")
        if isinstance(exc, oa.APIConnectionError):
            return BackendError(f"{self._where}: connection failed after {self.settings.retries} retries ({self._scrub(str(exc.__cause__ or exc))})")
        if isinstance(exc, oa.APIStatusError):
            return BackendError(f"{self._where}: HTTP {status} after {self.settings.retries} retries: {self._scrub(exc.message)}")
        return BackendError(f"{self._where}: {type(exc).__name__}: {self._scrub(str(exc))}")

    def generate(self, request: GenerateRequest) -> Reply:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"model": self.settings.model, "messages": list(request.messages),
                                  "max_tokens": request.max_tokens, "temperature": request.temperature}
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if self.settings.extra.get("extra_body"):  # server-specific sampling knobs (repeat_penalty, top_k...)
            kwargs["extra_body"] = dict(self.settings.extra["extra_body"])
        try:
            response = self._client.chat.completions.create(**kwargs)
        except self._openai.OpenAIError as exc:
            raise self._map_error(exc) from None
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise BackendError(f"{self._where}: malformed reply (no choices[0].message)") from None
        usage = getattr(response, "usage", None)
        return Reply(text=text, latency_s=time.perf_counter() - started,
                     prompt_tokens=getattr(usage, "prompt_tokens", None), completion_tokens=getattr(usage, "completion_tokens", None))

    def close(self) -> None:
        self._client.close()
