"""The run's shared records on a Redis server (``--llm-coordination``), for runs spread over hosts.

``FileState`` shares records between the processes of one host. When a run is sharded over CI
jobs or machines against one API quota, the same records live on a Redis server instead, behind
the same ``SharedState`` interface, so the rate limit (and every other run-wide count) needs no
change to be shared across hosts.

- ``update`` is an optimistic transaction (WATCH, read, MULTI/SET/EXEC; redis-py's
  ``transaction`` helper), tried again when another process changed the record first: this is why
  a change must be a pure function.
- ``now`` is the server's ``TIME``: one clock for every host, whatever their clocks say.
- Keys are namespaced. Records that count against an API quota (``rate:``, ``concurrency:``) are
  per endpoint, shared by every run that uses the server; the others (budgets, early stopping)
  belong to one run key (``--llm-coordination-key``, else the CI run's id, else this run alone),
  so the shards of one CI run share them and unrelated runs never do.
- Every write sets a TTL (a day), so a server is never filled by old runs.
- The password (the URL's, or ``${VAR}`` naming the variable that holds it) is a secret: shown
  messages name the URL with ``***`` in its place, and the run's scrubber masks it.

redis-py is imported only when a run names a server, so importing the plugin stays cheap.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import ConfigError, FatalBackendError, reason
from ..scrub import ENV_REFERENCE, MASK
from .shared_state import Change

if TYPE_CHECKING:
    import redis

__all__ = ["RECORD_TTL_S", "RedisState", "checked_url", "default_run_key", "shown_url", "url_secrets"]

T = TypeVar("T")
RECORD_TTL_S = 24 * 3600
SCHEMES = ("redis", "rediss", "unix")
OPTION = "--llm-coordination"
_ENDPOINT_RECORDS = ("rate:", "concurrency:")  # one API quota: shared by every run on the server
# CI run ids, so the shards (jobs) of one CI run share its records without a key of their own;
# a re-run attempt is a new run (a budget starts again).
_CI_RUN_IDS = (("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"), ("CI_PIPELINE_ID", None), ("BUILDKITE_BUILD_ID", None))


def expanded(url: str) -> str:
    """``url`` with each ``${VAR}`` replaced by the variable's value (where a password belongs)."""
    def value(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise ConfigError(f"{shown_url(url)}: the environment variable {match.group(1)} is not set", key=OPTION)
        return found

    return ENV_REFERENCE.sub(value, url)


def shown_url(url: str) -> str:
    """``url`` as it may be shown: the password replaced by ``***``, query arguments (which may
    hold one) dropped."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<the --llm-coordination URL>"
    user = parts.username or ""
    login = f"{user}:{MASK}@" if parts.password is not None else (f"{user}@" if user else "")
    if not parts.netloc:  # unix:///path/to/redis.sock
        return f"{parts.scheme}://{parts.path}"
    return urlunsplit((parts.scheme, f"{login}{host}{port}", parts.path, "", ""))


def url_secrets(url: str | None) -> list[str]:
    """The password the URL holds or names (for the run's scrubber)."""
    if not url:
        return []
    try:
        password = urlsplit(expanded(url)).password
    except (ConfigError, ValueError):
        return []
    return list(dict.fromkeys([unquote(password), password])) if password else []  # as read, and as written


def checked_url(url: str) -> str:
    """``url`` if it names a Redis server; otherwise a ConfigError with the one line."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ConfigError(f"expected redis://[:password@]host:port/db (or rediss://, unix://), "
                          f"got {shown_url(url) if scheme else '<no scheme>'}", key=OPTION)
    return url


def default_run_key() -> str:
    """The CI run's id (its shards share the run's records), else a key of this run alone."""
    for run_id, attempt in _CI_RUN_IDS:
        if os.environ.get(run_id):
            return f"{run_id.lower()}-{os.environ[run_id]}" + (f"-{os.environ.get(attempt, '1')}" if attempt else "")
    return f"local-{uuid.uuid4().hex}"


class RedisState:
    """Records as Redis strings, each changed in one optimistic transaction (module docstring)."""

    def __init__(self, url: str, run_key: str, *, ttl_s: int = RECORD_TTL_S) -> None:
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError("needs redis-py, the Redis client: pip install 'pytest-llmeval[redis]'",
                              key=OPTION) from None
        self.where, self.run_key, self.ttl_s = shown_url(url), run_key, ttl_s
        self._secrets = url_secrets(url)
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                expanded(checked_url(url)), socket_connect_timeout=5, socket_timeout=10,
                retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 5),  # about 5 s of reconnects
                retry_on_error=[redis.ConnectionError, redis.TimeoutError])
        except ValueError as exc:  # a URL redis-py cannot read (port, db): its words, not the URL
            raise ConfigError(f"{self.where}: {_scrubbed(exc, self._secrets)}", key=OPTION) from None

    def check(self) -> None:
        """Reach the server now (start-up): a ConfigError with the one line when it cannot be."""
        try:
            self._client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the one line
            raise ConfigError(f"cannot reach the coordination server {self.where} "
                              f"({_scrubbed(exc, self._secrets)})", key=OPTION) from None

    def server_version(self) -> str:
        """The server's version (``pytest-llmeval doctor``)."""
        version: str = self._call(lambda: self._client.info("server")).get("redis_version", "?")
        return version

    def key(self, name: str) -> str:
        """Where record ``name`` lives: per endpoint for quota records, else under the run key."""
        if name.startswith(_ENDPOINT_RECORDS):
            return f"llmeval:{name}"
        return f"llmeval:run:{self.run_key}:{name}"

    def update(self, name: str, change: Change[T]) -> T:
        key = self.key(name)

        def attempt(pipe: redis.client.Pipeline) -> Any:  # redis-py's stubs say None; it returns ours
            raw = pipe.get(key)
            seconds, micros = pipe.time()
            new, result = change(_bytes(raw), seconds + micros / 1e6)
            pipe.multi()
            pipe.set(key, new, ex=self.ttl_s)
            return result

        result: T = self._call(lambda: self._client.transaction(attempt, key, value_from_callable=True))
        return result

    def read(self, name: str) -> bytes | None:
        return _bytes(self._call(lambda: self._client.get(self.key(name))))

    def close(self) -> None:
        self._client.close()

    def _call(self, step: Any) -> Any:
        """Run ``step``. redis-py reconnects on its own for a few seconds (a server restart); a
        server still lost after that stops the model's requests at once (FatalBackendError: one
        line, the run fails) rather than each queued sample waiting out its own retries, or the
        run going on with limits nobody else sees. Every reply received is in the journal, so the
        rerun asks only for the rest."""
        import redis

        try:
            return step()
        except redis.RedisError as exc:
            raise FatalBackendError(f"the coordination server {self.where} was lost mid-run "
                                    f"({_scrubbed(exc, self._secrets)}); the replies received are in the "
                                    "journal and a rerun asks only for the rest") from None


def _bytes(raw: bytes | str | None) -> bytes | None:
    """A record as bytes, also when the URL asked redis-py to decode replies (``decode_responses``)."""
    return raw.encode() if isinstance(raw, str) else raw


def _scrubbed(exc: BaseException, secrets: list[str]) -> str:
    """The exception's few words, with the URL's password masked should a library echo it. A
    refused login says so plainly (redis-py's words for a missing password name HELLO)."""
    import redis

    if isinstance(exc, redis.AuthenticationError):
        return "the server refused the login: wrong or missing password"
    text = reason(exc)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
