"""The task registry: every value a suite's ``task:`` accepts, and everything that depends on it.

A new task is one module (its scorer, and its option and gold checks if it has any) plus one
line in ``REGISTRY``. The suite schema validates ``task:`` and ``mode:`` against it, the
``scoring:`` block is checked against the options a task declares, collection checks each gold
answer with ``read_gold``, ``score_reply`` calls ``score``, and the results carry ``metric``.
``json_match.py`` is a task added this way.

Seams for what comes next (declared here, read by the layers above):

- ``modes``: which ``mode:`` values a task supports (``gen`` sends a prompt and reads the reply;
  ``ll`` asks for the log-likelihoods of the option letters; ``cloze`` for those of the option
  texts, scored by ``cloze.py``, whose ``scoring:`` keys only that mode reads). A new mode is a value here plus its request in
  ``suites/evaluate.py``.
- ``metric``: the name the reports give the subject score (``accuracy`` for the tasks here).
- ``aggregate``: how a subject's per-sample scores become its score. ``proportion`` counts right
  answers (``Scored.correct``) and gives a Wilson interval; a graded task (ROUGE, a judge's scale)
  declares ``mean``, returns its float in ``Scored.score``, and gets the mean with a bootstrap
  interval (``results/aggregate.py``) and the paired permutation test against a baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from . import builtin, cloze, code_tests, json_match, judge_task, text_tasks
from .scored import Gold, Scored

__all__ = ["MODES", "REGISTRY", "TASKS", "Task", "metric_name", "task_named"]

Scorer = Callable[[str, Gold, Mapping[str, Any]], Scored]


def _no_options(options: Mapping[str, Any]) -> None:
    """Tasks without options: the key check has already refused any."""


@dataclass(frozen=True, slots=True)
class Task:
    """One ``task:``. ``score`` reads one reply against the gold answer under the ``scoring:`` options.

    ``options``: the ``scoring:`` keys the task reads (any other is refused, naming the tasks that
    read it); ``check_options`` checks their values (ConfigError naming ``scoring.<key>``).
    ``read_gold``: the gold answer as the task compares it, checked once at collection so a bad
    answer is a data problem naming its row, never a silent miss (ValueError with the reason).
    ``needs_choices``: a sample without options is a data problem.
    ``needs_target``: a sample without an answer is a data problem (a code task's gold is its tests).
    ``executes``: scoring runs model-written code, so the run scores its replies on the execution
    pool (``suites/executions.py``), never on the thread that sends requests or runs items.
    ``settings``: how the score was computed (a metric's signature), recorded with each sample.
    ``judged``: the reply goes to a judge model (``scoring.judge``) in a second request, and
    ``score`` reads the JUDGE's reply (``judge_task``).
    """

    name: str
    score: Scorer
    options: frozenset[str] = frozenset()
    check_options: Callable[[Mapping[str, Any]], None] = _no_options
    read_gold: Callable[[Gold], str] | None = None
    needs_choices: bool = False
    needs_target: bool = True
    executes: bool = False
    modes: tuple[str, ...] = ("gen",)
    metric: str = "accuracy"
    aggregate: str = "proportion"
    judged: bool = False
    settings: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None


def _registry(*tasks: Task) -> Mapping[str, Task]:
    return MappingProxyType({t.name: t for t in tasks})


REGISTRY: Mapping[str, Task] = _registry(
    Task("multiple_choice", builtin.multiple_choice, cloze.CLOZE_OPTIONS, cloze.check_cloze_options,
         read_gold=builtin.multiple_choice_gold, needs_choices=True, modes=("gen", "ll", "cloze")),
    Task("exact_match", builtin.exact_match, builtin.FLAGS, builtin.check_flags),
    Task("contains", builtin.contains, builtin.FLAGS, builtin.check_flags),
    Task("regex", builtin.regex, builtin.FLAGS | {"pattern"}, builtin.check_pattern),
    Task("numeric", builtin.numeric, read_gold=builtin.numeric_gold),
    Task("json_match", json_match.score, read_gold=json_match.read_gold),
    Task("code", code_tests.score, code_tests.OPTIONS, code_tests.check_options, read_gold=code_tests.read_gold,
         needs_target=False, executes=True, metric="pass@1"),
    Task("rouge", text_tasks.rouge, text_tasks.ROUGE_OPTIONS, text_tasks.check_options("rouge"), metric="rouge",
         aggregate="mean", settings=partial(text_tasks.metric_settings, "rouge")),
    Task("bleu", text_tasks.bleu, text_tasks.BLEU_OPTIONS, text_tasks.check_options("bleu"), metric="bleu",
         aggregate="mean", settings=partial(text_tasks.metric_settings, "bleu")),
    Task("chrf", text_tasks.chrf, text_tasks.CHRF_OPTIONS, text_tasks.check_options("chrf"), metric="chrf",
         aggregate="mean", settings=partial(text_tasks.metric_settings, "chrf")),
    Task("judge", judge_task.score, judge_task.OPTIONS, judge_task.check_options, metric="judge", aggregate="mean",
         judged=True),
)

TASKS: tuple[str, ...] = tuple(REGISTRY)
MODES: tuple[str, ...] = tuple(dict.fromkeys(mode for task in REGISTRY.values() for mode in task.modes))


def task_named(name: str) -> Task:
    """The registered task, or the one line that lists them."""
    task = REGISTRY.get(name)
    if task is None:
        raise ConfigError(f"unknown task {name!r} (expected one of {', '.join(TASKS)})", key="task")
    return task


def metric_name(task: str, options: Mapping[str, Any]) -> str:
    """The name the reports give a subject's score: the task's ``metric``, except that ``rouge``
    names the ROUGE its ``scoring.rouge`` chose (``rougeL`` by default)."""
    return text_tasks.metric_of(task, options) if task == "rouge" else task_named(task).metric
