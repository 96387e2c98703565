"""Non-OpenAI HTTP services (TGI, Triton, MindIE, or any JSON endpoint), configured in the profile alone.

A request is the profile's body template filled in (``template.py``) and sent to
``base_url`` + ``path`` through one pooled httpx client per backend, which threads may share.
The reply's text is read at ``reply_path``; with ``stream: true`` the reply is server-sent
events (``sse.py``) whose ``stream_path`` pieces are joined. Options and presets:
``options.py`` and ``presets.py``. One attempt per call: the engine owns retries.

Every failure becomes ours in one place, ``_map_error``:

    HTTP 401, 403                        -> FatalBackendError (credentials refused: stop the run)
    HTTP 404                             -> FatalBackendError (wrong path or model: stop the run)
    HTTP 408, 429, 5xx                   -> TransientBackendError (with Retry-After)
    other HTTP 3xx/4xx matching reject_pattern -> SampleRejected (prompt too long: a miss)
    finish_reason "content_filter" (at finish_reason_path) -> SampleRejected
                       matching fatal_pattern  -> FatalBackendError (Triton's unknown model)
                       otherwise               -> BackendError
    an error object in a 200 reply or stream (``error_path``): the patterns as above,
                       otherwise               -> TransientBackendError
    no byte for timeout_s, or the whole call past it   -> TransientBackendError (``BoundedTransport``;
                       a run's deadline shortens it: ``attempt_timeout``)
    refused, reset or dropped connection, cut-off body -> TransientBackendError
    a body that is not JSON, no text at reply_path, a stream without its final chunk
                                                       -> TransientBackendError
    anything else                                      -> BackendError

Every message is one line naming the URL and what was expected, and never holds a header secret,
even when the server echoes it. ``Reply.extra["time_to_first_chunk_s"]`` (streaming only) runs
from the request leaving (its headers being written, so connecting and pool waits do not count)
to the first event; ``ChunkClock`` times the content pieces (``Reply.ttft_s``, ``itl_s``) from the
same moment; ``Reply.latency_s`` is the whole call. Stop strings are applied again on our
side (``trim_stop``): TGI keeps the stop string in its text, and Triton and MindIE get none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import BackendError, ConfigError, FatalBackendError, SampleRejected, TransientBackendError, reason
from ..base import Backend, BackendSettings, GenerateRequest, Reply
from ..openai.chat import retry_after_seconds
from ..openai.response import refuse_finish
from ..stream_clock import ChunkClock
from .options import HTTPConfig, build_config
from .sse import Event, iter_events, json_chunks
from .template import MISSING, dotted_get

if TYPE_CHECKING:
    import httpx2

__all__ = ["HTTPBackend"]

_MAX_LINE = 400
_PREVIEW = 160


class _Refused(Exception):
    """The server said no: an HTTP error ``status``, or (``status`` None) an error in a 200 reply."""

    def __init__(self, status: int | None, detail: str, retry_after: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.retry_after = status, detail, retry_after


class _Malformed(Exception):
    """The reply is not shaped as the options say; the message says what was expected."""


class _Deadline(Exception):
    """The whole call ran past ``timeout_s`` (a server trickling chunks)."""


def _import_httpx() -> Any:
    try:
        import httpx2
    except ImportError:
        raise ConfigError("backend http needs httpx2 (it comes with openai): pip install httpx2") from None
    return httpx2


class HTTPBackend(Backend):
    """Generation over a JSON-over-HTTP protocol described by ``settings.extra`` (see the README)."""

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._config: HTTPConfig = build_config(settings)
        self._httpx = _import_httpx()
        from ..transport import BoundedTransport

        self._client: httpx2.Client = self._httpx.Client(
            headers=self._config.headers, timeout=settings.timeout_s, follow_redirects=False,
            transport=BoundedTransport())

    def generate(self, request: GenerateRequest) -> Reply:
        cfg = self._config
        body = cfg.body.render(self._values(request))
        started = time.perf_counter()
        sent: list[float] = []
        timeout = self.attempt_timeout()
        try:
            with self._client.stream(cfg.method, cfg.url, json=body, timeout=timeout,
                                     extensions={"trace": _recorder(sent)}) as response:
                if response.status_code >= 300:
                    detail = self._detail(response.read())
                    raise _Refused(response.status_code, detail, response.headers.get("retry-after"))
                reply = self._read_events(response, started, sent, timeout) if cfg.stream else self._read_json(response)
        except SampleRejected:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes ours, in _map_error
            raise self._map_error(exc) from None
        reply.latency_s = time.perf_counter() - started
        if cfg.trim_stop and request.stop:
            reply.text = _cut_at_stop(reply.text, request.stop)
        return reply

    def close(self) -> None:
        self._client.close()

    def _values(self, request: GenerateRequest) -> dict[str, Any]:
        """What the body template's placeholders stand for (listed in ``template.py``)."""
        t = request.temperature
        return {
            "prompt": self._config.prompt(request.messages), "messages": [dict(m) for m in request.messages],
            "model": self.settings.model, "max_tokens": request.max_tokens, "temperature": t,
            "sampling_temperature": t if t > 0 else None, "do_sample": t > 0, "stop": list(request.stop),
            "stream": self._config.stream,
        }

    def _read_json(self, response: httpx2.Response) -> Reply:
        raw = response.read()
        try:
            data = json.loads(raw)
        except ValueError:
            raise _Malformed(f"expected a JSON body, got {self._preview(raw)}") from None
        self._raise_if_error(data)
        path = self._config.reply_path
        assert path is not None
        text = dotted_get(data, path)
        if not isinstance(text, str):
            raise _Malformed(f"expected a string at {path!r}, got {_found(data, text)}")
        return self._reply(text, [data], None)

    def _read_events(self, response: httpx2.Response, started: float, sent: list[float], timeout: float) -> Reply:
        """Join the ``stream_path`` pieces; the final chunk's ``stream_final_path`` text, when the
        protocol has one, is the whole reply (MindIE leaves the last token's piece empty)."""
        cfg = self._config
        pieces: list[str] = []
        chunks: list[Any] = []
        clock = ChunkClock(started)
        first: float | None = None
        final: Any = MISSING
        for event in iter_events(response.iter_lines()):
            if time.perf_counter() - started > timeout:
                raise _Deadline()
            if event.data.strip() == "[DONE]":
                break
            first = time.perf_counter() if first is None else first
            for chunk in self._parse_event(event):
                chunks.append(chunk)
                piece = dotted_get(chunk, cfg.stream_path) if cfg.stream_path else MISSING
                skipped = cfg.stream_skip_path is not None and dotted_get(chunk, cfg.stream_skip_path) is True
                if isinstance(piece, str) and not skipped:
                    pieces.append(piece)
                if cfg.stream_final_path and dotted_get(chunk, cfg.stream_final_path) not in (MISSING, None):
                    final = dotted_get(chunk, cfg.stream_final_path)
                    # MindIE's last token comes with an empty piece and the whole text: a token all the same
                    piece = piece if piece or skipped else final
                if not skipped:
                    clock.content(piece)
        self._check_stream(response, chunks, final)
        assert first is not None  # _check_stream saw at least one chunk
        text = final if isinstance(final, str) else "".join(pieces)
        return clock.stamp(self._reply(text, chunks, first - (sent[0] if sent else started)),
                           sent[0] if sent else started)

    def _parse_event(self, event: Event) -> list[Any]:
        try:
            chunks = json_chunks(event.data)
        except ValueError:
            raise _Malformed(f"expected JSON in every server-sent event, got {self._preview(event.data)}") from None
        for chunk in chunks:
            if event.event == "error":
                raise _Refused(None, _error_text(chunk))
            self._raise_if_error(chunk)
        return chunks

    def _check_stream(self, response: httpx2.Response, chunks: list[Any], final: Any) -> None:
        cfg = self._config
        if not chunks:
            kind = response.headers.get("content-type", "no content-type")
            raise _Malformed(f"expected server-sent events with data chunks, got none ({kind})")
        path = cfg.stream_final_path
        if path and final is MISSING:
            raise _Malformed(f"the stream was cut short: no final chunk with a string at {path!r}")
        if path and not isinstance(final, str):
            raise _Malformed(f"expected a string at {path!r} in the final chunk, got {_json_type(final)}")
        if not path and cfg.stream_path and all(dotted_get(chunk, cfg.stream_path) is MISSING for chunk in chunks):
            raise _Malformed(f"expected a string at {cfg.stream_path!r} in the streamed chunks, "
                             f"got {_found(chunks[0], MISSING)}")

    def _raise_if_error(self, data: Any) -> None:
        if self._config.error_path is None:
            return
        error = dotted_get(data, self._config.error_path)
        if error is not MISSING and error not in (None, "", False):
            raise _Refused(None, _error_text(error))

    def _reply(self, text: str, chunks: list[Any], first_chunk_s: float | None) -> Reply:
        cfg = self._config
        extra: dict[str, Any] = {}
        finish = _last(chunks, cfg.finish_reason_path)
        refuse_finish(finish)
        if isinstance(finish, str):
            extra["finish_reason"] = finish
        if first_chunk_s is not None:
            extra["time_to_first_chunk_s"] = round(first_chunk_s, 6)
        return Reply(text=text, prompt_tokens=_int_or_none(_last(chunks, cfg.prompt_tokens_path)),
                     completion_tokens=_int_or_none(_last(chunks, cfg.completion_tokens_path)), extra=extra)

    def _detail(self, raw: bytes) -> str:
        """What an error body says: the text at ``error_path`` (or a ``message``), else the body."""
        try:
            data = json.loads(raw)
        except ValueError:
            return self._preview(raw)
        for path in (self._config.error_path, "message", "detail"):
            value = dotted_get(data, path) if path else MISSING
            if value not in (MISSING, None, ""):
                return _error_text(value)
        return self._preview(raw)

    def _map_error(self, exc: Exception) -> BackendError:
        """The one place where failures become ours (the table in the module docstring)."""
        hx, model = self._httpx, self.settings.model
        if isinstance(exc, _Refused):
            return self._refusal(exc)
        if isinstance(exc, (_Malformed, hx.DecodingError)):
            return self._error(f"malformed reply for model {model!r}: {exc}", transient=True)
        if isinstance(exc, (hx.TimeoutException, _Deadline)):
            return self._error(f"no reply within {self.attempt_timeout():g} s for model {model!r}", transient=True)
        if isinstance(exc, hx.TransportError):  # refused, reset, dropped, a body cut short
            return self._error(f"connection failed for model {model!r}: {reason(exc)}", transient=True)
        return self._error(f"model {model!r}: {reason(exc)}")

    def _refusal(self, exc: _Refused) -> BackendError:
        status, model, cfg = exc.status, self.settings.model, self._config
        what = f"HTTP {status}" if status is not None else "error in the reply"
        if status in (401, 403):  # the server's text may echo the credentials in another form: left out
            return self._error(f"the endpoint rejected the credentials ({what}) for model {model!r}", fatal=True)
        if status == 404:
            return self._error(f"{what} for model {model!r}: expected the endpoint at this URL (check base_url, "
                               f"options.path and the model name): {exc.detail}", fatal=True)
        if status is not None and (status in (408, 429) or status >= 500):
            return self._error(f"{what} for model {model!r}: {exc.detail}", transient=True,
                               retry_after_s=retry_after_seconds(exc.retry_after), status=status)
        if cfg.reject is not None and cfg.reject.search(exc.detail):
            return SampleRejected(self._line(f"prompt refused ({what}) for model {model!r}: {exc.detail}"))
        if cfg.fatal is not None and cfg.fatal.search(exc.detail):
            return self._error(f"{what} for model {model!r}: {exc.detail}", fatal=True)
        return self._error(f"{what} for model {model!r}: {exc.detail}", transient=status is None)

    def _error(self, message: str, *, fatal: bool = False, transient: bool = False,
               retry_after_s: float | None = None, status: int | None = None) -> BackendError:
        line = self._line(message)
        if fatal:
            return FatalBackendError(line)
        return TransientBackendError(line, retry_after_s=retry_after_s, status=status) if transient else BackendError(line)

    def _line(self, message: str) -> str:
        """One line, naming the URL, without any secret, at most ``_MAX_LINE`` characters."""
        line = " ".join(self._scrub(f"{self._config.url}: {message}").split())
        line = self._scrub(line)
        return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."

    def _scrub(self, text: str) -> str:
        for secret in self._config.secrets:  # longest first, so no secret is left half-replaced
            text = text.replace(secret, "***")
        return text

    def _preview(self, raw: bytes | str) -> str:
        """The start of a body for a message, scrubbed before it is cut so no secret is half-kept."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = " ".join(self._scrub(text).split())
        if not text:
            return "an empty body"
        return repr(text if len(text) <= _PREVIEW else text[:_PREVIEW] + "...")


def _recorder(sent: list[float]) -> Callable[[str, dict[str, Any]], None]:
    """An httpcore trace hook noting when the request's headers start going out."""

    def trace(name: str, info: dict[str, Any]) -> None:
        if not sent and name.endswith("send_request_headers.started"):
            sent.append(time.perf_counter())

    return trace


def _error_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    return json.dumps(value, ensure_ascii=False)


def _found(data: Any, value: Any) -> str:
    """What stood where a string was expected, for a message."""
    if value is MISSING:
        if isinstance(data, dict) and data:
            return f"no such key (top-level keys: {', '.join(map(str, data))})"
        return f"no such key in {_json_type(data)}"
    return _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "an array",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _last(chunks: list[Any], path: str | None) -> Any:
    """The last value at ``path`` among the chunks (streams report counts in their final chunk)."""
    if path is None:
        return None
    for chunk in reversed(chunks):
        value = dotted_get(chunk, path)
        if value is not MISSING and value is not None:
            return value
    return None


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cuts = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    return text[: min(cuts)] if cuts else text


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
