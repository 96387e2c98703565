"""Presets of the ``http`` backend: option defaults that speak one serving stack's native protocol.

A preset is nothing but default values for the options of ``options.py``; any option the profile
sets replaces the preset's value whole (use ``extra_body`` to add fields to a preset's body).

- ``tgi``: Text Generation Inference, ``POST /generate`` (``generated_text``) or, streaming,
  ``POST /generate_stream`` (one ``StreamResponse`` per token, special tokens such as ``</s>``
  skipped; the last carries the whole ``generated_text`` and ``details``, which wins). TGI refuses
  a temperature of 0, so greedy requests send ``do_sample: false`` and no temperature. Its
  ``Input validation error`` about the prompt's length (HTTP 422 from ``/generate``; an error
  event inside a 200 stream from ``/generate_stream``) is a rejected sample. ``tgi-stream`` is
  ``tgi`` streaming by default.
- ``triton``: Triton's generate extension, ``POST /v2/models/{model}/generate`` (``text_output``)
  and ``/generate_stream`` (one ``text_output`` piece per event, joined; ``{"error": ...}`` may
  arrive inside a 200 stream). ``parameters`` are model-specific: the preset sends ``max_tokens``,
  ``temperature`` and ``stream``, as the extension's example does, and ``exclude_input_in_output``
  so Triton's vLLM backend returns only the completion (other backends ignore it). A TensorRT-LLM
  ensemble takes ``max_tokens`` as a top-level field instead: set ``body:`` for it. Triton answers
  an unknown model with HTTP 400 "Request for unknown model", which stops the run like a 404.
- ``mindie``: MindIE Service's native ``POST /infer`` (``generated_text``); with ``stream: true``
  in the body the reply is events of one ``token`` each, and the last carries the whole
  ``generated_text`` (its own token's text is null, so joining pieces would lose it) and
  ``details``. MindIE requires a temperature above 0, like TGI.

Sources: TGI's OpenAPI document (docs/openapi.json) and router validation messages; Triton's
``docs/protocol/extension_generate.md``; MindIE Service's "MindIE原生文本/流式推理接口" page.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "preset_defaults"]

PRESETS = ("tgi", "tgi-stream", "triton", "mindie")

# Messages that say the prompt does not fit the model's context: the sample is a miss, not an error.
_TGI_TOO_LONG = r"Input validation error: `inputs` (must have less than|tokens \+ `max_new_tokens` must be <=)"
_PROMPT_TOO_LONG = r"(?i)\b(prompt|input (length|tokens?))\b[^;]*?\b(is too long|exceeds?|is longer than)\b"

_TGI_BODY: dict[str, Any] = {
    "inputs": "{prompt}",
    "parameters": {"max_new_tokens": "{max_tokens}", "do_sample": "{do_sample}",
                   "temperature": "{sampling_temperature}", "stop": "{stop}",
                   "details": True, "return_full_text": False},
}
_TRITON_BODY: dict[str, Any] = {
    "text_input": "{prompt}",
    "parameters": {"max_tokens": "{max_tokens}", "temperature": "{temperature}", "stream": "{stream}",
                   "exclude_input_in_output": True},
}
_MINDIE_BODY: dict[str, Any] = {
    "inputs": "{prompt}", "stream": "{stream}",
    "parameters": {"max_new_tokens": "{max_tokens}", "do_sample": "{do_sample}",
                   "temperature": "{sampling_temperature}", "details": True},
}


def _tgi(stream: bool) -> dict[str, Any]:
    return {
        "path": "/generate_stream" if stream else "/generate", "body": _TGI_BODY,
        "reply_path": "generated_text", "stream_path": "token.text", "stream_skip_path": "token.special",
        "stream_final_path": "generated_text", "prompt_tokens_path": "details.input_length",
        "completion_tokens_path": "details.generated_tokens", "finish_reason_path": "details.finish_reason",
        "reject_pattern": _TGI_TOO_LONG,
    }


def _triton(stream: bool) -> dict[str, Any]:
    return {
        "path": "/v2/models/{model}/generate_stream" if stream else "/v2/models/{model}/generate",
        "body": _TRITON_BODY, "reply_path": "text_output", "stream_path": "text_output",
        "reject_pattern": _PROMPT_TOO_LONG, "fatal_pattern": r"Request for unknown model",
    }


def _mindie(stream: bool) -> dict[str, Any]:
    return {
        "path": "/infer", "body": _MINDIE_BODY, "reply_path": "generated_text", "stream_path": "token.text",
        "stream_final_path": "generated_text", "completion_tokens_path": "details.generated_tokens",
        "finish_reason_path": "details.finish_reason", "reject_pattern": _PROMPT_TOO_LONG,
    }


def preset_defaults(name: str, stream: bool) -> dict[str, Any]:
    """The options ``name`` stands for when the backend does (or does not) stream."""
    build = {"tgi": _tgi, "tgi-stream": _tgi, "triton": _triton, "mindie": _mindie}[name]
    return build(stream)
