"""Log-likelihoods (``mode: ll``) from an OpenAI-compatible ``/v1/completions`` endpoint.

A continuation is scored the way lm-evaluation-harness's ``local-completions`` scores it, with text
prompts instead of token ids (the server's tokenizer is not at hand here):

- The prompts are the context alone, trailing whitespace stripped, then ``context + continuation``
  for each continuation, sent with ``echo: true, logprobs: 1, max_tokens: 1, temperature: 0``: the
  server echoes its tokens of each prompt, each with its log-probability given the tokens before.
  ``max_tokens`` is 1, not 0, because llama-cpp-python's server reads 0 as "no limit".
- The context alone is ``n`` tokens on the server, so a continuation's tokens are those of its full
  prompt after the first ``n``: lm-eval's split, ``tokens(context + c)[len(tokens(context)):]``, which
  also moves the context's trailing whitespace into the continuation. Counting the server's own
  tokens, rather than locating the boundary by ``text_offset``, also works where offsets count a BOS
  token's text or a partial UTF-8 byte as one character (vLLM).
- The echo may end with the generated token. It does when the reply text runs past the prompt or
  the last echoed token is not the prompt's own end (an end-of-sequence token); the probe below
  tells servers that never list it.
- A server that takes a list of prompts (vLLM) gets all of a sample's prompts in one request; one
  that does not (llama-cpp-python's server answers a list with HTTP 500) gets one request each.

What the server does is learnt on the first ll request, from a probe prompt whose tokens every
language model predicts with confidence (counting to twelve), started the way the contexts start
(with the special-token text, such as ``<|im_start|>``, that they open with, if any: a leading BOS
token decides how llama-cpp-python aligns its echo, see below):
- whether it takes a list of prompts;
- whether it returns prompt log-probabilities at all. No ``/completions`` route, a chat-only model,
  ``logprobs: null`` or the generated token's log-probability only (llama.cpp's own ``llama-server``)
  end the run up front with one ``FatalBackendError`` line, instead of an error on every item;
- whether the echo lists the generated token;
- whether the log-probabilities are shifted by one token. llama-cpp-python's server, for a model
  without a BOS token (SmolLM2, Qwen), reports for each prompt token the log-probability of that
  token as the *next* one (abetlen/llama-cpp-python#1983): scores from it are wrong, so that is
  fatal too. In an aligned echo the most likely token listed at a position is mostly the token
  there; in a shifted one it is mostly the token after it.

Requests go through ``post`` (one JSON body in, the reply's JSON out), which the backend supplies:
it owns the HTTP client and maps transport failures into ``errors``. It raises ``EndpointRefused``
for the statuses that say this endpoint cannot do it (400, 404, 405, 422, 501), so the probe can
tell "no prompt log-probabilities here" from a dropped connection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import BackendError, FatalBackendError
from ..base import LoglikelihoodRequest, Reply

__all__ = [
    "PROBE_PROMPT", "Echo", "EchoScorer", "EndpointRefused", "ServerShape", "leading_special", "ll_prompts",
    "parse_echoes",
]

PROBE_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
_MIN_ECHOED = 8  # the probe is 20+ tokens in any tokenizer; fewer entries means no echo
_LEADING_SPECIAL = re.compile(r"(?:<[^<>\s]{1,64}>)*")  # "<s>", "<|im_start|>", ... at a context's start
_ADVICE = ("does not return prompt log-probabilities with echo; use mode: gen, or a server that does "
           "(vLLM, llama-cpp-python's server)")

Post = Callable[[dict[str, Any]], Any]
Fail = Callable[..., BackendError]  # (message, fatal=False, transient=False) -> a one-line error


class EndpointRefused(Exception):
    """The completions endpoint answered 400/404/405/422/501: it cannot do what was asked."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail = status, detail


class _NoPromptLogprobs(Exception):
    """The reply carries no usable prompt log-probabilities; ``str()`` says what it carried."""


class _Malformed(Exception):
    """The reply is not the shape the completions API promises."""


@dataclass(frozen=True, slots=True)
class Echo:
    """One prompt as the server echoed it: its tokens, their log-probabilities and the best
    alternatives listed at each position, and the reply text (the prompt, then what it generated)."""

    tokens: tuple[str, ...]
    logprobs: tuple[float | None, ...]
    top: tuple[Mapping[str, float] | None, ...]
    text: str

    def prompt_length(self, prompt: str, lists_generated: bool) -> int:
        """How many entries belong to the prompt, the generated token (if listed) left out."""
        if not lists_generated or not self.tokens:
            return len(self.tokens)
        generated = self.text[len(prompt):] if self.text.startswith(prompt) else ""
        last = self.tokens[-1]
        generated_listed = bool(generated) or not (last and prompt.endswith(last))
        return len(self.tokens) - 1 if generated_listed else len(self.tokens)


@dataclass(frozen=True, slots=True)
class ServerShape:
    """What the probe learnt about the endpoint."""

    batches: bool  # takes a list of prompts in one request
    lists_generated: bool  # the echo ends with the generated token


def ll_prompts(request: LoglikelihoodRequest) -> list[str]:
    """The context alone (trailing whitespace stripped), then ``context + continuation`` for each."""
    return [request.context.rstrip(), *(request.context + c for c in request.continuations)]


def request_body(prompts: str | list[str]) -> dict[str, Any]:
    return {"prompt": prompts, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0}


def parse_echoes(body: Any) -> list[Echo]:
    """The echoed prompts of a completions reply, in prompt order."""
    choices = body.get("choices") if isinstance(body, Mapping) else None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, Mapping) for c in choices):
        raise _Malformed("no choices")
    ordered = sorted(enumerate(choices), key=lambda ic: _index(ic[1], ic[0]))
    return [_echo(choice) for _, choice in ordered]


def _index(choice: Mapping[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _echo(choice: Mapping[str, Any]) -> Echo:
    logprobs = choice.get("logprobs")
    if logprobs is None:
        raise _NoPromptLogprobs("its replies carry logprobs: null")
    if not isinstance(logprobs, Mapping):
        raise _Malformed(f"logprobs is a {type(logprobs).__name__}")
    tokens, values, top = logprobs.get("tokens"), logprobs.get("token_logprobs"), logprobs.get("top_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list):
        raise _NoPromptLogprobs("its replies carry no logprobs.tokens / logprobs.token_logprobs lists")
    if len(tokens) != len(values) or (isinstance(top, list) and len(top) != len(tokens)):
        raise _Malformed("logprobs lists of different lengths")
    if not all(isinstance(t, str) for t in tokens):
        raise _Malformed("a token that is not a string")
    if not all(v is None or _is_number(v) for v in values):
        raise _Malformed("a token log-probability that is not a number")
    tops = top if isinstance(top, list) else [None] * len(tokens)
    text = choice.get("text")
    return Echo(tuple(tokens), tuple(None if v is None else float(v) for v in values),
                tuple(_alternatives(t) for t in tops), text if isinstance(text, str) else "")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _alternatives(top: object) -> Mapping[str, float] | None:
    if not isinstance(top, Mapping) or not top:
        return None
    if not all(isinstance(k, str) and _is_number(v) for k, v in top.items()):
        return None
    return {k: float(v) for k, v in top.items()}


def leading_special(context: str) -> str:
    """The special-token text a context opens with (``"<|im_start|>"``), or ``""``."""
    match = _LEADING_SPECIAL.match(context)
    return match.group(0) if match else ""


def probe_shape(echo: Echo, probe: str, batches: bool) -> ServerShape:
    """The endpoint's shape from its echo of ``probe``; raises ``_NoPromptLogprobs``."""
    known = sum(v is not None for v in echo.logprobs)
    if len(echo.tokens) < _MIN_ECHOED or known < len(echo.tokens) // 2:
        raise _NoPromptLogprobs(f"its echo of a {len(probe)}-character prompt has {len(echo.tokens)} token(s), "
                                f"{known} with a log-probability (echo ignored)")
    generated = echo.text[len(probe):] if echo.text.startswith(probe) else ""
    lists_generated = not generated or echo.tokens[-1] == generated
    prompt_tokens = echo.prompt_length(probe, lists_generated)
    if _shifted(echo, prompt_tokens):
        raise _NoPromptLogprobs("its prompt log-probabilities are shifted by one token (llama-cpp-python's "
                                "server does this for models without a BOS token, abetlen/llama-cpp-python#1983)")
    return ServerShape(batches=batches, lists_generated=lists_generated)


def _shifted(echo: Echo, prompt_tokens: int) -> bool:
    """Whether the best alternative listed at a position is more often the next token than its own."""
    own = following = 0
    for i in range(1, prompt_tokens - 1):
        top = echo.top[i]
        if top is None:
            continue
        best = max(top, key=lambda t: top[t])
        own += best == echo.tokens[i]
        following += best == echo.tokens[i + 1] and best != echo.tokens[i]
    return following >= 3 and following > own


@dataclass(frozen=True, slots=True)
class _Scored:
    logprob: float
    tokens: int
    greedy: bool


def score_continuation(context: Echo, full: Echo, prompts: tuple[str, str], lists_generated: bool,
                       continuation: str) -> _Scored:
    """The summed log-probability of the continuation's tokens in ``full``: the entries after the
    context's ``n`` and before the generated token."""
    start = context.prompt_length(prompts[0], lists_generated)
    end = full.prompt_length(prompts[1], lists_generated)
    if end <= start:
        raise BackendError(f"continuation {continuation!r} has no tokens to score")
    values = full.logprobs[start:end]
    if any(v is None for v in values):
        raise _Malformed("a continuation token without a log-probability")
    greedy = all(top is not None and v is not None and v >= max(top.values()) - 1e-6
                 for v, top in zip(values, full.top[start:end]))
    return _Scored(sum(v for v in values if v is not None), end - start, greedy)


class EchoScorer:
    """Scores ``LoglikelihoodRequest``s through ``post``; probes the endpoint on first use.

    Thread-safe: the engine may call ``score`` from several threads; each probe runs once.
    """

    def __init__(self, post: Post, fail: Fail) -> None:
        self._post, self._fail = post, fail
        self._shapes: dict[str, ServerShape] = {}  # by the special-token text the contexts open with
        self._fatal: BackendError | None = None
        self._lock = threading.Lock()

    def score(self, request: LoglikelihoodRequest) -> Reply:
        started = time.perf_counter()
        prompts = ll_prompts(request)
        if not prompts[0]:  # lm-eval conditions on a BOS token here, which a text prompt cannot name
            raise self._fail("an empty context cannot be scored through /completions")
        shape = self.shape(leading_special(request.context))
        echoes, prompt_tokens = self._echoes(prompts, shape.batches)
        scored = [score_continuation(echoes[0], full, (prompts[0], prompt), shape.lists_generated, text)
                  for full, prompt, text in zip(echoes[1:], prompts[1:], request.continuations)]
        return Reply(text="", latency_s=time.perf_counter() - started, logprobs=tuple(s.logprob for s in scored),
                     prompt_tokens=prompt_tokens,
                     extra={"continuation_tokens": tuple(s.tokens for s in scored),
                            "is_greedy": tuple(s.greedy for s in scored)})

    def shape(self, leading: str = "") -> ServerShape:
        """The endpoint's shape for contexts opening with ``leading``, probed on first call; a
        refusal is remembered and raised again without another request."""
        with self._lock:
            if self._fatal is not None:
                raise self._fatal
            if leading not in self._shapes:
                try:
                    self._shapes[leading] = self._probe(leading + PROBE_PROMPT)
                except FatalBackendError as exc:
                    self._fatal = exc
                    raise
            return self._shapes[leading]

    def _probe(self, probe: str) -> ServerShape:
        try:
            echoes = parse_echoes(self._post(request_body([probe, probe])))
            if len(echoes) == 2:
                return probe_shape(echoes[0], probe, batches=True)
        except (EndpointRefused, _Malformed, _NoPromptLogprobs):
            pass  # told again, with its reason, by the single-prompt probe below
        except FatalBackendError:
            raise
        except BackendError:
            pass  # llama-cpp-python's server answers a list of prompts with HTTP 500
        try:
            return probe_shape(self._single(probe)[0], probe, batches=False)
        except EndpointRefused as exc:
            raise self._fail(f"/completions answered {exc}: the endpoint {_ADVICE}", fatal=True) from None
        except _NoPromptLogprobs as exc:
            raise self._fail(f"/completions {_ADVICE}: {exc}", fatal=True) from None
        except _Malformed as exc:
            raise self._fail(f"malformed /completions reply: {exc}", transient=True) from None

    def _echoes(self, prompts: list[str], batches: bool) -> tuple[list[Echo], int | None]:
        try:
            if batches:
                body = self._post(request_body(prompts))
                echoes = parse_echoes(body)
                if len(echoes) != len(prompts):
                    raise _Malformed(f"{len(echoes)} choices for {len(prompts)} prompts")
                return echoes, _prompt_tokens(body)
            replies = [self._single(p) for p in prompts]
            counts = [count for _, count in replies]
            total = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
            return [echo for echo, _ in replies], total
        except EndpointRefused as exc:
            raise self._fail(f"/completions answered {exc}", fatal=exc.status == 404) from None
        except (_Malformed, _NoPromptLogprobs) as exc:
            raise self._fail(f"malformed /completions reply: {exc}", transient=True) from None

    def _single(self, prompt: str) -> tuple[Echo, int | None]:
        body = self._post(request_body(prompt))
        echoes = parse_echoes(body)
        if len(echoes) != 1:
            raise _Malformed(f"{len(echoes)} choices for one prompt")
        return echoes[0], _prompt_tokens(body)


def _prompt_tokens(body: Any) -> int | None:
    usage = body.get("usage") if isinstance(body, Mapping) else None
    count = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None

