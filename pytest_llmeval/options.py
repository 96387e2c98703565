"""Option and ini names, and the typed settings object every other module reads.

Each ``--llm-*`` option has an ini twin ``llm_*``; the command line wins over the ini file.
Only this module knows option names, so renaming one touches one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .ranges import RANGES, default

if TYPE_CHECKING:
    from .results.conclude import Settings

__all__ = ["CACHE_MODES", "GATES", "RunOptions", "add_options", "parse_shard", "path_problem", "read_options"]

GROUP = "llmeval"
CACHE_MODES = ("on", "off", "refresh", "clear")

# (option, ini type, help, argparse kwargs). Defaults are None so "not given" is visible and
# profiles or suites can fill the gap; the real defaults live in the one table, ``ranges.RANGES``,
# and a help text's ``{default}`` is filled from it (``help_text``).
_OPTIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("--llm-model", "linelist", "model to evaluate (profile name or backend model name); repeat to compare", {"action": "append"}),
    ("--llm-backend", "string", "openai, llamacpp, hf, http, an entry point of pytest_llmeval.backends, or package.module:Class", {}),
    ("--llm-base-url", "string", "endpoint of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1", {}),
    ("--llm-api-key-env", "string", "name of the environment variable holding the API key (never the key itself)", {}),
    ("--llm-models-file", "string", "model profiles file (default: llm_models.yaml beside the ini file or the given paths)", {}),
    ("--llm-retries", "string", "retries per request after the first try (default {default})", {"type": int}),
    ("--llm-timeout", "string", "per-request timeout in seconds (default {default})", {"type": float}),
    ("--llm-concurrency", "string", "requests in flight per process and model (default {default}; local models: 1, batched), or auto: adapted to the server, shared by all xdist workers", {}),
    ("--llm-rate", "string", "requests per second per endpoint, shared by all xdist workers (default: no limit)", {"type": float}),
    ("--llm-tokens-per-minute", "string", "prompt+completion tokens per minute per endpoint, shared likewise", {"type": int}),
    ("--llm-coordination", "string", "share rate limits and run-wide counts across hosts on a Redis server: redis://[:password@]host:port/db (a password may be ${VAR}; default: files on this host)", {}),
    ("--llm-coordination-key", "string", "the run key whose records (budgets, early stops) the shards of one run share on the coordination server (default: the CI run's id, else this run alone)", {}),
    ("--llm-budget-tokens", "string", "the most prompt+completion tokens the run may send, all models and processes together; then nothing more is sent", {"type": int}),
    ("--llm-budget-cost", "string", "the most the run may spend, in its models' price currency (profile price:); then nothing more is sent", {"type": float}),
    ("--llm-cache", "string", "response cache and journal: on (default), off, refresh (ask again, record), clear (empty it first), or a file path", {}),
    ("--llm-deadline", "string", "total seconds for the run's requests; samples not sent by then are errors", {"type": float}),
    ("--llm-progress", "string", "seconds between progress lines (default {default}; 0: none)", {"type": float}),
    ("--llm-limit", "string", "at most N samples per subject, chosen deterministically", {"type": int}),
    ("--llm-max-tokens", "string", "maximum generated tokens (overrides suites and profiles)", {"type": int}),
    ("--llm-temperature", "string", "sampling temperature (default {default})", {"type": float}),
    ("--llm-report-dir", "string", "write results.json, results.csv, samples.jsonl, report.html and junit.xml into DIR", {}),
    ("--llm-baseline", "string", "accepted baseline file to compare against (written by --llm-update-baseline)", {}),
    ("--llm-update-baseline", "bool", "write this run's results as the accepted baseline (default file: llmeval-baseline.json in the rootdir)", {"action": "store_true", "default": None}),
    ("--llm-regression-tolerance", "string", "a subject or group regresses only when its score drops by more than this (default {default})", {"type": float}),
    ("--llm-regression-significance", "string", "... and McNemar's exact test on the paired samples gives p below this (default {default})", {"type": float}),
    ("--llm-max-unparsed", "string", "fail the run when more than this share of a subject's replies has no readable answer, e.g. 0.05", {"type": float}),
    ("--llm-gate", "string", "what thresholds are checked against: score (default) or ci-low (the 95% interval's lower bound)", {}),
    ("--llm-flips", "string", "flipped samples shown in the terminal per direction (default {default}; all are in the reports)", {"type": int}),
    ("--llm-shard", "string", "run shard I of N (I/N, 1-based): a deterministic, balanced split of every subject's samples", {}),
    ("--llm-early-stop", "string", "stop asking a subject once its threshold verdict is certain at level ALPHA (default {default}), by an anytime-valid sequential rule", {"nargs": "?", "const": "default", "metavar": "ALPHA"}),
    ("--llm-strict", "bool", "every wrong answer fails its item", {"action": "store_true", "default": None}),
    ("--llm-stream", "bool", "stream replies and report time to first token, inter-token latency and time per output token", {"action": "store_true", "default": None}),
    ("--llm-unsafe-exec", "bool", "where no sandbox runs, run model-written code (task: code) in a plain subprocess, as you, with your network and files", {"action": "store_true", "default": None}),
    ("--llm-judge", "string", "the model profile that judges: llm.judge() in Python tests, and --llm-judge-pairwise", {}),
    ("--llm-judge-pairwise", "bool", "the judge (--llm-judge) compares each reply with the baseline's reply to the same sample, in both orders; a significant loss is a regression", {"action": "store_true", "default": None}),
    ("--llm-shrink", "bool", "shrink a failing @llmeval.examples example with hypothesis's shrinker to the smallest input that still fails", {"action": "store_true", "default": None}),
    ("--llm-shrink-calls", "string", "at most this many test calls per shrink (default {default})", {"type": int}),
    ("--llm-latency", "linelist", "latency gate KEY=MS for every model, e.g. ttft_p95_ms=500 or e2e_p99_ms=3000; repeat for more", {"action": "append"}),
]


def help_text(flag: str, text: str) -> str:
    """``text`` with ``{default}`` replaced by the option's default from ``ranges.RANGES``."""
    if "{default}" not in text:
        return text
    return text.format(default=f"{default(flag.removeprefix('--llm-').replace('-', '_')):g}")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "LLM evaluation (pytest-llmeval)")
    for flag, ini_type, template, kwargs in _OPTIONS:
        dest = flag[2:].replace("-", "_")
        shown = help_text(flag, template)
        # argparse %-formats option help ("95% interval" would crash pytest --help); ini help is not
        group.addoption(flag, dest=dest, help=shown.replace("%", "%%"), **({"default": None} | kwargs))
        parser.addini(dest, help=shown, type=ini_type)  # type: ignore[arg-type]


def _value(config: pytest.Config, dest: str) -> Any:
    """Command line first, then the ini twin; None when neither is set (numbers: ``_number``)."""
    value = config.getoption(dest)
    if value is not None:
        return value
    ini = config.getini(dest)
    if ini in (None, "", []):
        return None
    return ini


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The run-wide settings, resolved once per process from command line and ini file."""

    models: tuple[str, ...]
    backend: str | None
    base_url: str | None
    api_key_env: str | None
    models_file: Path | None
    retries: int | None
    timeout_s: float | None
    limit: int | None
    concurrency: int | str | None  # a number, or "auto" (engine/concurrency.py)
    rate: float | None
    tokens_per_minute: int | None
    cache: str
    cache_path: Path | None
    deadline_s: float | None
    progress_s: float
    max_tokens: int | None
    temperature: float | None
    report_dir: Path | None
    strict: bool
    stream: bool = False
    latency_gates: tuple[tuple[str, float], ...] = ()  # --llm-latency, checked
    baseline: Path | None = None
    update_baseline: bool = False
    regression_tolerance: float = 0.01
    regression_significance: float = 0.05
    gate: str = "score"  # or "ci_low"
    max_unparsed: float | None = None  # every subject's limit on its share of unparsed replies
    flips_shown: int = 5
    shard: tuple[int, int] | None = None  # (index, total), 1-based
    unsafe_exec: bool = False  # --llm-unsafe-exec: a machine without a sandbox may run model code unsandboxed
    judge: str | None = None  # --llm-judge: the judge model profile for llm.judge and pairwise judging
    judge_pairwise: bool = False
    shrink: int = 0  # --llm-shrink: test calls allowed per shrink (--llm-shrink-calls); 0: no shrinking
    early_stop: float | None = None  # --llm-early-stop: the level alpha (None: every subject asked in full)
    coordination: str | None = None  # --llm-coordination: the Redis URL (may hold a password: never shown)
    coordination_key: str | None = None  # --llm-coordination-key
    budget_tokens: int | None = None  # --llm-budget-tokens: the run's, all models together
    budget_cost: float | None = None  # --llm-budget-cost: in the models' price currency

    def settings(self, models: Sequence[str]) -> Settings:
        """The record of what decides the run (``results.conclude.Settings``), for ``models``: the
        run's resolved models in the controller, the names given in ``public``."""
        from .results.conclude import Settings

        return Settings(models=tuple(models), latency_gates=dict(self.latency_gates), gate=self.gate,
                        max_unparsed=self.max_unparsed, baseline=self.baseline, update_baseline=self.update_baseline,
                        regression_tolerance=self.regression_tolerance,
                        regression_significance=self.regression_significance, limit=self.limit, strict=self.strict,
                        sharded=self.shard is not None)

    def public(self) -> dict[str, Any]:
        """What results.json records of the options; holds names of key variables, never keys."""
        return {
            "backend": self.backend,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "tokens_per_minute": self.tokens_per_minute,
            "budget_tokens": self.budget_tokens,
            "budget_cost": self.budget_cost,
            "cache": self.cache,
            "deadline_s": self.deadline_s,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": self.stream,
            "unsafe_exec": self.unsafe_exec,
            **self.settings(self.models).to_record(),
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "early_stop": self.early_stop,
        }


def _number(config: pytest.Config, key: str) -> Any:
    """A numeric option (command line first, then the ini twin) checked against its range in
    ``ranges.RANGES``; None when neither is set. Out of range is a usage error naming the option."""
    spec = RANGES[key]
    dest = f"llm_{key}"
    source, value = f"--llm-{key.replace('_', '-')}", config.getoption(dest)
    if value is None:
        ini = config.getini(dest)
        if ini in (None, ""):
            return None
        source = f"ini option {dest}"
        try:
            value = spec.kind(str(ini).strip())
        except ValueError:
            raise pytest.UsageError(f"{source}: expected {spec.text}, got {ini!r}") from None
    try:
        return spec.check(value)
    except ValueError as exc:
        raise pytest.UsageError(f"{source}: {exc}") from None


def _concurrency(config: pytest.Config) -> int | str | None:
    """``--llm-concurrency``: a number (checked by ``_number``), or ``auto``."""
    value = _value(config, "llm_concurrency")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if value is None or config.getoption("llm_concurrency") is None:
        number: int | None = _number(config, "concurrency")
        return number
    try:
        number = int(str(value).strip())
    except ValueError:
        raise pytest.UsageError(f"--llm-concurrency: expected {RANGES['concurrency'].text} or auto, "
                                f"got {value!r}") from None
    try:
        return int(RANGES["concurrency"].check(number))
    except ValueError as exc:
        raise pytest.UsageError(f"--llm-concurrency: {exc}") from None


def _cache_setting(config: pytest.Config) -> tuple[str, Path | None]:
    """``--llm-cache`` takes a mode word or a path; a path in the ini file and a mode on the command
    line combine (``llm_cache = .cache/llm.sqlite3`` with ``--llm-cache=refresh``)."""
    mode, path = None, None
    ini = config.getini("llm_cache")
    for value in (ini if isinstance(ini, str) else None, config.getoption("llm_cache")):
        if not value:
            continue
        if value in CACHE_MODES:
            mode = value
        else:
            path = Path(value)
    if mode is None:  # a streamed run measures latency: record every reply, but time each one anew
        mode = "refresh" if _value(config, "llm_stream") else "on"
    return mode, path


def read_options(config: pytest.Config) -> RunOptions:
    models = _value(config, "llm_model") or []
    cache, cache_path = _cache_setting(config)
    progress = _number(config, "progress")
    report_dir = _checked_path("--llm-report-dir", _path_option(config, "llm_report_dir"), folder=True)
    _checked_path("--llm-cache", cache_path, folder=False)
    models_file = _value(config, "llm_models_file")
    if _value(config, "llm_judge_pairwise") and not (_value(config, "llm_judge") or "").strip():
        raise pytest.UsageError("--llm-judge-pairwise needs a judge: --llm-judge=PROFILE")
    regression = _regression_settings(config)
    if _value(config, "llm_judge_pairwise") and regression["baseline"] is None:
        raise pytest.UsageError("--llm-judge-pairwise needs the baseline whose replies it compares with: "
                                "--llm-baseline=FILE")
    return RunOptions(
        models=tuple(dict.fromkeys(m.strip() for m in models if m.strip())),
        backend=_value(config, "llm_backend"),
        base_url=_value(config, "llm_base_url"),
        api_key_env=_value(config, "llm_api_key_env"),
        models_file=Path(models_file) if models_file else None,
        retries=_number(config, "retries"),
        timeout_s=_number(config, "timeout"),
        limit=_number(config, "limit"),
        concurrency=_concurrency(config),
        rate=_number(config, "rate"),
        tokens_per_minute=_number(config, "tokens_per_minute"),
        budget_tokens=_number(config, "budget_tokens"),
        budget_cost=_number(config, "budget_cost"),
        cache=cache,
        cache_path=cache_path,
        deadline_s=_number(config, "deadline"),
        progress_s=default("progress") if progress is None else progress,
        max_tokens=_number(config, "max_tokens"),
        temperature=_number(config, "temperature"),
        report_dir=report_dir,
        strict=bool(_value(config, "llm_strict")),
        judge=(_value(config, "llm_judge") or "").strip() or None,
        judge_pairwise=bool(_value(config, "llm_judge_pairwise")),
        shrink=_shrink(config),
        stream=bool(_value(config, "llm_stream")),
        unsafe_exec=bool(_value(config, "llm_unsafe_exec")),
        latency_gates=_latency_gates(_value(config, "llm_latency") or []),
        **regression,
        max_unparsed=_max_unparsed(config),
        shard=_shard(_value(config, "llm_shard"), bool(_value(config, "llm_update_baseline"))),
        early_stop=_early_stop(config, regression),
        coordination=_coordination(config),
        coordination_key=(_value(config, "llm_coordination_key") or "").strip() or None,
    )


GATES = {"score": "score", "ci-low": "ci_low", "ci_low": "ci_low"}


def _path_option(config: pytest.Config, dest: str) -> Path | None:
    """A path from the command line is relative to where pytest was started; one from the ini
    file is relative to the rootdir (like pytest's ``cache_dir``), so ``llm_baseline =
    baselines/glm.json`` means one file wherever in the project pytest is run."""
    value = config.getoption(dest)
    if value:
        return Path(value)
    ini = config.getini(dest)
    if not ini:
        return None
    path = Path(str(ini))
    return path if path.is_absolute() else Path(config.rootpath) / path


def path_problem(path: Path, *, folder: bool) -> str | None:
    """Why ``path`` cannot be the folder (``folder``) or file the run will write, or None: a file
    where a folder is wanted or the other way round, or a file on the way to it. Checked before
    the run, so a run never ends in a traceback over where to put what it measured."""
    if path.is_dir():
        return None if folder else "is a folder, expected a file"
    if path.exists():
        return "is a file, expected a folder" if folder else None
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else f"{parent} is a file, so nothing can be made under it"
    return None


def _checked_path(option: str, path: Path | None, *, folder: bool) -> Path | None:
    why = path_problem(path, folder=folder) if path is not None else None
    if why:
        raise pytest.UsageError(f"{option} {path}: {why}")
    return path


def _regression_settings(config: pytest.Config) -> dict[str, Any]:
    baseline = _checked_path("--llm-baseline", _path_option(config, "llm_baseline"), folder=False)
    update = bool(_value(config, "llm_update_baseline"))
    if update and not baseline:
        baseline = Path(config.rootpath) / "llmeval-baseline.json"
    tolerance = _number(config, "regression_tolerance")
    significance = _number(config, "regression_significance")
    gate = _value(config, "llm_gate") or "score"
    if gate not in GATES:
        raise pytest.UsageError(f"--llm-gate: expected score or ci-low, got {gate!r}")
    flips = _number(config, "flips")
    return {
        "baseline": baseline,
        "update_baseline": update,
        "regression_tolerance": default("regression_tolerance") if tolerance is None else tolerance,
        "regression_significance": default("regression_significance") if significance is None else significance,
        "gate": GATES[gate],
        "flips_shown": default("flips") if flips is None else flips,
    }


def _shrink(config: pytest.Config) -> int:
    """Test calls per shrink of a failing example; 0 without ``--llm-shrink``."""
    calls = _number(config, "shrink_calls")
    return (default("shrink_calls") if calls is None else calls) if _value(config, "llm_shrink") else 0


def _max_unparsed(config: pytest.Config) -> float | None:
    """The run's limit on every subject's share of replies with no readable answer (0 to 1)."""
    limit: float | None = _number(config, "max_unparsed")
    return limit


def _early_stop(config: pytest.Config, regression: dict[str, Any]) -> float | None:
    """``--llm-early-stop[=ALPHA]`` (ini ``llm_early_stop``: true, false or ALPHA): the level, or
    None. Refused with what needs every sample of a subject: a shard (it holds part of each), a
    baseline update (it would accept part of each), the ci-low gate (the rule decides the score's)."""
    value = _value(config, "llm_early_stop")
    if isinstance(value, str) and value.strip().lower() in ("", "false", "no", "off"):
        return None
    if value is None:
        return None
    text = str(value).strip().lower()
    try:
        alpha = float(default("early_stop") if text in ("default", "true", "yes", "on") else text)
        alpha = RANGES["early_stop"].check(alpha)
    except ValueError as exc:
        problem = str(exc) if str(exc).startswith("expected") else f"expected {RANGES['early_stop'].text}, got {value!r}"
        raise pytest.UsageError(f"--llm-early-stop: {problem}") from None
    clash = ("--llm-shard" if _value(config, "llm_shard") else "--llm-update-baseline" if regression["update_baseline"]
             else "--llm-gate=ci-low" if regression["gate"] == "ci_low" else None)
    if clash is not None:
        raise pytest.UsageError(f"--llm-early-stop with {clash}: early stopping decides a subject's score gate from "
                                "part of its samples; that needs them all")
    return float(alpha)
def _coordination(config: pytest.Config) -> str | None:
    """The coordination server's URL, checked to be a Redis URL (a usage error otherwise)."""
    url = (_value(config, "llm_coordination") or "").strip()
    if not url:
        return None
    from .engine.redis_state import checked_url
    from .errors import ConfigError

    try:
        return checked_url(url)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); ValueError saying what was expected otherwise."""
    index, slash, total = text.strip().partition("/")
    try:
        i, n = int(index), int(total)
    except ValueError:
        i, n = 0, 0
    if not slash or not 1 <= i <= n:
        raise ValueError(f"expected I/N with 1 <= I <= N, e.g. 1/4, got {text!r}")
    return i, n


def _shard(value: str | None, update_baseline: bool) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        shard = parse_shard(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--llm-shard: {exc}") from None
    if update_baseline:  # each job holds part of every subject: its baseline would lose the rest
        raise pytest.UsageError("--llm-update-baseline with --llm-shard: a shard has part of each subject; "
                                "accept the merged run instead: pytest-llmeval merge ... --update-baseline")
    return shard


def _latency_gates(values: list[str]) -> tuple[tuple[str, float], ...]:
    """``KEY=MS`` items (each value may hold several, comma-separated) as checked gates."""
    from .results.latency_gates import GateError, check_gates

    gates: dict[str, object] = {}
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        key, equals, limit = item.partition("=")
        try:
            gates[key.strip()] = float(limit) if equals else None
        except ValueError:
            gates[key.strip()] = limit.strip()
    try:
        return tuple(check_gates(gates).items())
    except GateError as exc:
        raise pytest.UsageError(f"--llm-latency {exc}") from None
