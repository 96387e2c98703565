"""The exception tree, drawn once so every layer maps its low-level failures into it in one place.

    LLMEvalError
    ├── ConfigError          bad user input: a suite, a data file, an option, a profile.
    │   ├── DataError        a data file that cannot be read as the suite says.
    │   ├── GateError        a latency gate that is not <metric>_p<N>_ms: <number> (results/latency_gates.py).
    │   ├── BaselineError    a baseline file that cannot be used (results/baseline.py).
    │   └── MergeError       report folders that cannot be merged (merge.py).
    ├── SandboxError         the sandbox for model-written code cannot run here (no bubblewrap,
    │                        no user namespaces): never a failed sample, since no code ran.
    ├── NotAsked             a sample deliberately not sent (early stop, a budget reached): the
    │                        item is a *skip* with the reason, never a miss or an error.
    └── BackendError         the backend could not answer this sample (after its retries):
        │                    the item is an *error*, never silently a miss.
        ├── TransientBackendError  worth another try (429, 5xx, timeout, dropped connection,
        │                    malformed body); the engine retries it with backoff, honouring
        │                    ``retry_after_s``, and only then reports a BackendError.
        ├── SampleRejected   the endpoint refused this sample's prompt on purpose (content
        │                    filter, prompt too long): scored as a *miss*, the reason recorded.
        ├── FatalBackendError the endpoint refused the whole run (401/403 key, 404 model):
        │                    the session stops at once with one line.
        ├── Cancelled        the run stopped (deadline, fatal error, Ctrl-C) before this sample
        │                    was answered: an error, since it was never measured.
        └── NativeCrashError a local model's native library crashed (or hung) on this machine,
                             in a child process that tried it first: every sample of that model
                             is an error with the one line, and the other models of the run go on.

Every message is a single line that names where the problem is (file, line, key or field) and
what was expected, because users see it in place of a traceback. The three ``ConfigError``s
defined beside the code that raises them are also ``ValueError``s, as they were before they
joined the tree. ``one_line`` turns any exception, in the tree or not, into the line shown;
``reason`` and ``detail`` give a foreign exception's few words for a line of our own (with and
without its class). No other module spells an exception out by hand.
"""

from __future__ import annotations

__all__ = [
    "BackendError", "Cancelled", "ConfigError", "DataError", "FatalBackendError", "LLMEvalError", "NativeCrashError",
    "NotAsked", "SampleRejected", "SandboxError", "TransientBackendError", "detail", "one_line", "reason",
]


class LLMEvalError(Exception):
    """Base of everything this plugin raises on purpose."""


class ConfigError(LLMEvalError):
    """User input is wrong. ``str(err)`` is the one line shown to the user.

    ``where`` is a file path, optionally with ``:line``; ``key`` the dotted key or field name.
    """

    def __init__(self, message: str, *, where: str | None = None, key: str | None = None) -> None:
        self.where = where
        self.key = key
        self.detail = message
        parts = [p for p in (where, f"{key}" if key else None) if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataError(ConfigError):
    """A data file does not have the layout its format promises."""


class SandboxError(LLMEvalError):
    """The sandbox could not run a program at all. ``str(err)`` is one line saying why, for the
    run's refusal and for ``doctor``; a program that ran and failed is an ``Execution`` instead."""


class NotAsked(LLMEvalError):
    """A sample deliberately not sent, so not measured: neither a miss nor an error.

    ``complete=True``: its subject's verdict is already known (sequential early stopping), so the
    subject counts as complete without it. ``complete=False``: something else stopped the asking
    (a budget reached), so its subject is *incomplete*: it never passes a gate and the run is not
    green. ``reason`` is the item's skip reason, one line.
    """

    def __init__(self, reason: str, complete: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.complete = complete


class BackendError(LLMEvalError):
    """The backend gave no usable answer for one request, after its retries."""


class FatalBackendError(BackendError):
    """The endpoint will refuse every request of this run: a rejected key or an unknown model."""


class Cancelled(BackendError):
    """The run stopped (deadline, fatal error, Ctrl-C) while this request waited."""


class NativeCrashError(BackendError):
    """The model's native library cannot run here: loading it in a child process crashed, hung or
    was killed. Not retried (it would crash again), and not fatal: the run's other models have
    nothing to do with this machine's build of one library."""


class TransientBackendError(BackendError):
    """A failure that may pass on its own. Backends raise it and never retry themselves: the engine
    owns retries, so backoff, Retry-After and the retry counts are the same for every backend.

    ``retry_after_s`` is the server's own wait hint (a Retry-After header), when it sent one.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SampleRejected(BackendError):
    """The endpoint answered, but refused this prompt by policy: a content filter, a prompt longer
    than the context. The model did not answer, so the sample is a miss, with ``reason`` recorded
    (retrying cannot help, and an error would fail the run for the model's own refusal)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def detail(exc: BaseException) -> str:
    """What went wrong in the exception's own words, for a line that already names the step that
    failed ("cannot read CSV (...)"): an OSError's reason, else the first line of its message; its
    class only when it has no message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def reason(exc: BaseException) -> str:
    """Why an exception from outside the tree happened, as a few words for the one line: an
    OSError by its reason ("Permission denied", "No space left on device"), anything else by
    its class and the first line of its message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The line a user sees for ``exc``: our own errors by their message, an OSError by its reason,
    anything else by its class and message; whitespace (line breaks too) collapsed, at most
    ``limit`` characters."""
    if isinstance(exc, LLMEvalError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc).strip() else type(exc).__name__
    return " ".join(text.split())[:limit]
