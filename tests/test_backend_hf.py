"""The transformers backend on the real SmolLM2-135M-Instruct, read from the bundled GGUF (one loaded
model per test session; the llama.cpp comparison loads that backend's own session model too)."""

from __future__ import annotations

import json
import math
import sys
import threading
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import BackendSettings, GenerateRequest, LoglikelihoodRequest
from pytest_llmeval.backends.bundled import bundled_model_path
from pytest_llmeval.backends.hf.backend import HFBackend, _guarded
from pytest_llmeval.backends.hf.load import converted_folder, import_torch
from pytest_llmeval.errors import BackendError, ConfigError


WORLD_FACTS = Path(__file__).resolve().parents[1] / "example_suites" / "data" / "world_facts" / "test.jsonl"
SCORING_CASES = [  # trailing whitespace, an empty context, multi-token, shared-prefix and non-ASCII continuations
    LoglikelihoodRequest("Question: 2+2?\nA. 3\nB. 4\nAnswer:", (" A", " B", " 4", " four")),
    LoglikelihoodRequest("The capital of France is ", ("Paris", "banana", "the city of light", "Paris is")),
    LoglikelihoodRequest("Translate to French: cat =>\n", ("chat", " chien", "le chat noir")),
    LoglikelihoodRequest("", ("Hello world", " The")),
    LoglikelihoodRequest("中国的首都是", ("北京", "上海")),
]

CLOZE_CASES = [  # option texts after the prompt: shared first tokens, non-ASCII, lm-eval's unconditional request
    LoglikelihoodRequest("Question: Which formula is a tautology?\nAnswer:", (" P ∨ ¬P", " P ∧ ¬P", " P → Q", " P ∨ Q")),
    LoglikelihoodRequest("Q: What happens if you eat a pomegranate?\nA:",
                         (" Nothing in particular happens when you eat a pomegranate.",
                          " You will have to spend winter in the underworld.", " You will die.")),
    LoglikelihoodRequest("", (" P ∨ ¬P", " P ∧ ¬P", " P → Q", " P ∨ Q")),
]


def _ask(text: str, max_tokens: int = 12, stop: tuple[str, ...] = ()) -> GenerateRequest:
    return GenerateRequest(({"role": "user", "content": text},), max_tokens=max_tokens, temperature=0.0, stop=stop)


def _backend(**extra: object) -> HFBackend:
    return HFBackend(BackendSettings(backend="hf", model="SmolLM2-135M-Instruct", extra=dict(extra)))


def _reference(backend: HFBackend, request: LoglikelihoodRequest, max_len: int) -> list[float]:
    """lm-evaluation-harness's arithmetic, written out plainly: one sequence per continuation,
    the whole vocabulary's log-softmax at every position, no batching."""
    import torch

    tokenizer, model = backend.model.tokenizer, backend.model.model
    out = []
    for continuation in request.continuations:
        context = request.context
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        if context:
            context_ids = tokenizer.encode(context)
            whole = tokenizer.encode(context + continuation)
            continuation_ids = whole[len(context_ids):]
        else:  # lm-eval's empty context: the prefix token, the continuation without special tokens
            context_ids, continuation_ids = [tokenizer.bos_token_id], tokenizer.encode(continuation,
                                                                                        add_special_tokens=False)
        inp = (context_ids + continuation_ids)[-(max_len + 1):][:-1]
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(torch.tensor([inp])).logits[0].float(), dim=-1)
        rows = logprobs[len(inp) - len(continuation_ids):]
        out.append(float(rows.gather(1, torch.tensor(continuation_ids)[:, None]).sum()))
    return out


def test_greedy_generation_is_deterministic_and_counts_tokens(hf_backend):
    request = _ask("Name a colour.", max_tokens=16)
    first = hf_backend.generate(request)
    hf_backend.loglikelihood(SCORING_CASES[0])
    again = hf_backend.generate(request)
    assert first.text.strip() and first.text == again.text
    assert 0 < first.completion_tokens <= 16 and first.prompt_tokens > 10 and first.latency_s > 0


def test_a_batch_answers_as_each_request_alone(hf_backend):
    requests = [_ask("List three fruits.", 14, stop=("\n",)), _ask("What is 2+2?", 6),
                _ask("Write one short sentence about the sea and the sky at night.", 10), _ask("Hi", 3)]
    alone = [hf_backend.generate(r) for r in requests]
    together = hf_backend.generate_batch(requests)
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.completion_tokens for r in together] == [r.completion_tokens for r in alone]
    assert together[3].completion_tokens == 3 and together[3].extra["finish_reason"] == "length"


def test_stop_strings_cut_the_reply_at_the_first_one(hf_backend):
    full = hf_backend.generate(_ask("List three fruits.", max_tokens=20)).text
    assert "\n" in full
    stopped = hf_backend.generate(_ask("List three fruits.", max_tokens=20, stop=("\n", "zzz")))
    assert stopped.text == full.split("\n")[0] and stopped.extra["finish_reason"] == "stop"
    assert stopped.completion_tokens < 20  # generation ended at the stop string, not at max_tokens


def test_a_long_prompt_loses_its_start_not_its_end(hf_backend):
    short = _backend(max_seq_len=48)
    assert short.model is hf_backend.model  # same weights, another length limit
    reply = short.generate(_ask("blah " * 200 + "What is 2+2?", max_tokens=8))
    assert reply.prompt_tokens == 40 and reply.completion_tokens <= 8
    request = LoglikelihoodRequest("word " * 100 + "The capital of France is", (" Paris", " banana", " Paris, of course"))
    scored = short.loglikelihood(request)
    assert scored.logprobs == pytest.approx(_reference(hf_backend, request, 48), abs=2e-4)
    assert scored.prompt_tokens <= 2 * 48


def test_log_likelihoods_equal_a_plain_forward_pass(hf_backend):
    batched = hf_backend.loglikelihood_batch(SCORING_CASES)
    for request, reply in zip(SCORING_CASES, batched):
        assert len(reply.logprobs) == len(request.continuations)
        assert all(math.isfinite(v) and v < 0 for v in reply.logprobs)
        assert reply.logprobs == pytest.approx(_reference(hf_backend, request, hf_backend.max_seq_len), abs=2e-4)
    assert batched[0].extra["continuation_tokens"] == (1, 1, 2, 1)  # digits are single tokens: " 4" is " ", "4"
    alone = [v for r in SCORING_CASES for v in hf_backend.loglikelihood(r).logprobs]
    assert [v for r in batched for v in r.logprobs] == pytest.approx(alone, abs=1e-4)


def test_options_sharing_a_context_are_read_from_few_rows(hf_backend):
    from pytest_llmeval.backends.hf.score import plan_reads

    rows, reads = plan_reads(hf_backend.model.tokenizer, SCORING_CASES[:2], hf_backend.max_seq_len)
    # request 0: the letters and " four" are read from the row of " 4" (" ", "4"), which starts with
    # the context; request 1: "Paris" and "banana" from the row of "the city of light"
    assert len(rows) == 1 + 2
    assert {read.row for read in reads if read.request == 0} == {0}


def test_option_texts_are_read_after_one_pass_over_their_context(hf_backend):
    from pytest_llmeval.backends.hf.score import TokenizerView, plan_reads
    from pytest_llmeval.backends.llamacpp import encode_pairs

    assert hf_backend.model.packs  # SmolLM2 under sdpa honours the packing mask exactly
    tokenizer = hf_backend.model.tokenizer
    rows, reads = plan_reads(tokenizer, CLOZE_CASES, hf_backend.max_seq_len, pack=True)
    assert len(rows) == len(CLOZE_CASES) and all(row.branches for row in rows)
    for request, row in zip(CLOZE_CASES, rows):  # the context once, then the options' tokens
        context, _ = encode_pairs(TokenizerView(tokenizer), request.context, request.continuations)
        assert list(row.tokens[:row.context]) == context
    assert sum(len(row.tokens) - row.context for row in rows) < sum(len(read.tokens) - 1 for read in reads)  # shared
    plain, _ = plan_reads(tokenizer, CLOZE_CASES, hf_backend.max_seq_len)
    assert len(plain) > len(rows) and sum(len(row.tokens) for row in plain) > sum(len(row.tokens) for row in rows)
    for request, reply, row in zip(CLOZE_CASES, hf_backend.loglikelihood_batch(CLOZE_CASES), rows):
        assert reply.logprobs == pytest.approx(_reference(hf_backend, request, hf_backend.max_seq_len), abs=2e-4)
        assert reply.prompt_tokens == len(row.tokens)


def test_packing_is_not_trusted_to_models_whose_attention_would_ignore_the_mask(hf_backend):
    from dataclasses import replace
    from types import SimpleNamespace

    from pytest_llmeval.backends.hf.score import packing_is_exact

    for config in ({"_attn_implementation": "flash_attention_2"},
                   {"_attn_implementation": "sdpa", "sliding_window": 4096},
                   {"_attn_implementation": "sdpa", "layer_types": ["full_attention", "sliding_attention"]}):
        model = SimpleNamespace(config=SimpleNamespace(**config), dtype=hf_backend.model.model.dtype)
        assert not packing_is_exact(replace(hf_backend.model, model=model))


def test_the_sensible_continuation_is_likelier_and_greedy(hf_backend):
    reply = hf_backend.loglikelihood(LoglikelihoodRequest("The capital of France is", (" Paris", " banana")))
    assert reply.logprobs[0] > reply.logprobs[1] and reply.extra["is_greedy"] == (True, False)


def test_option_picks_mostly_agree_with_llama_cpp_on_the_same_gguf(hf_backend, smollm2_backend):
    rows = [json.loads(line) for line in WORLD_FACTS.read_text(encoding="utf-8").splitlines()]
    requests = [LoglikelihoodRequest(
        f"The following are multiple choice questions (with answers) about {row['category']}.\n\n{row['question']}\n"
        + "".join(f"{label}. {text}\n" for label, text in zip("ABCD", row["options"])) + "Answer:",
        (" A", " B", " C", " D")) for row in rows]
    ours = [_argmax(r.logprobs) for r in hf_backend.loglikelihood_batch(requests)]
    theirs = [_argmax(smollm2_backend.loglikelihood(r).logprobs) for r in requests]
    agree = sum(a == b for a, b in zip(ours, theirs))
    assert len(requests) == 24 and agree >= 20, (ours, theirs)  # 4-bit llama.cpp kernels vs float32 torch


def _argmax(values: tuple[float, ...] | None) -> int:
    assert values is not None
    return max(range(len(values)), key=values.__getitem__)


def test_one_loaded_model_per_process_shared_under_one_lock(hf_backend):
    again = HFBackend(BackendSettings(backend="hf", model="x", model_path=str(bundled_model_path())))
    assert again.model is hf_backend.model and again.local is True
    request = SCORING_CASES[0]
    expected = hf_backend.loglikelihood(request).logprobs
    results: list[object] = []
    threads = [threading.Thread(target=lambda b=b: results.append(b.loglikelihood(request).logprobs))
               for b in (hf_backend, again, hf_backend, again)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [pytest.approx(expected, abs=1e-5)] * 4


def test_without_the_chat_template_the_raw_text_is_the_prompt(hf_backend):
    raw = _backend(chat_template=False)
    assert raw.model is hf_backend.model and hf_backend.use_chat_template and not raw.use_chat_template
    assert raw.generate(_ask("Hello", max_tokens=2)).prompt_tokens == 1
    assert hf_backend.generate(_ask("Hello", max_tokens=2)).prompt_tokens > 10


def test_the_gguf_is_converted_once_into_the_cache(hf_backend):
    folder = converted_folder(bundled_model_path())
    assert folder is not None and (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert converted_folder(bundled_model_path()) == folder
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".converting-")]


def test_two_processes_converting_at_once_both_get_the_folder(tmp_path, monkeypatch):
    """The race itself, with a stand-in converter that waits for the other before renaming."""
    from pytest_llmeval.backends.hf import load as hf_load

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    both = threading.Barrier(2)

    def convert(file: Path, folder: Path) -> None:
        (folder / "config.json").write_text(threading.current_thread().name)
        both.wait(timeout=10)

    monkeypatch.setattr(hf_load, "_convert", convert)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    found: list[Path | None] = []
    threads = [threading.Thread(target=lambda: found.append(converted_folder(gguf))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found[0] == found[1] and found[0] is not None and (found[0] / "config.json").is_file()
    assert [p.name for p in found[0].parent.iterdir()] == [found[0].name]  # the loser's staging folder is gone


@pytest.mark.parametrize(("extra", "message"), [
    ({"dtype": "float64"}, "^dtype: expected one of auto, float32, bfloat16, float16, got 'float64'$"),
    ({"device": "gpu"}, "^device: expected cpu, cuda, cuda:N or auto, got 'gpu'$"),
    ({"device": "cuda:x"}, "^device: expected cpu, cuda, cuda:N or auto"),
    ({"max_seq_len": 0}, "^max_seq_len: expected a positive integer, got 0$"),
    ({"batch_size": "big"}, "^batch_size: expected a positive integer, got 'big'$"),
    ({"chat_template": "yes"}, "^chat_template: expected true or false, got 'yes'$"),
    ({"n_ctx": 2048}, "^n_ctx: unknown option for backend hf \\(expected dtype, device, "),
])
def test_bad_options_are_one_line_config_errors(extra, message):
    with pytest.raises(ConfigError, match=message) as info:
        _backend(**extra)
    assert "\n" not in str(info.value)


def test_a_gpu_that_is_not_there_is_a_config_error():
    if import_torch().cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="^device: cuda:1 requested, but this torch build sees no CUDA device$"):
        _backend(device="cuda:1")


def test_missing_or_broken_files_and_unknown_models_are_config_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ConfigError, match="^model_path: transformers cannot load .*broken.gguf: .*GGUF v0"):
        HFBackend(BackendSettings(backend="hf", model="x", model_path=str(broken)))
    assert list((tmp_path / "cache" / "pytest-llmeval" / "hf").iterdir()) == []  # no half-converted folder
    with pytest.raises(ConfigError, match="^model_path: model folder or GGUF file not found: .*nope.gguf$"):
        HFBackend(BackendSettings(backend="hf", model="x", model_path=str(tmp_path / "nope.gguf")))
    with pytest.raises(ConfigError, match="^model_path: transformers cannot load .*empty"):
        (tmp_path / "empty").mkdir()
        HFBackend(BackendSettings(backend="hf", model="x", model_path=str(tmp_path / "empty")))
    with pytest.raises(ConfigError, match="^model_path: backend hf loads local models only: .*'org/some-model'$"):
        HFBackend(BackendSettings(backend="hf", model="org/some-model"))


def test_without_torch_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ConfigError, match=r"install the torch build for your machine first, then "
                                          r"pip install 'pytest-llmeval\[hf\]'$"):
        _backend()


def test_model_failures_are_one_line_backend_errors(hf_backend):
    def out_of_memory() -> None:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nGPU 0 has a total capacity of 8 GiB")

    with pytest.raises(BackendError, match="^hf: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB GPU 0"):
        _guarded(out_of_memory)
    with pytest.raises(BackendError, match="has no tokens to score"):
        hf_backend.loglikelihood(LoglikelihoodRequest("Hello", ("",)))
    with pytest.raises(BackendError, match="^hf: max_tokens=5000 leaves no room for the prompt in max_seq_len=4096$"):
        hf_backend.generate(_ask("Hi", max_tokens=5000))
