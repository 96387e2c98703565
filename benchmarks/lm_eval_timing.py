"""The time an lm-eval model spends inside ``loglikelihood``: the model phase alone, without
lm-eval's task building, metrics and logging. Used by the benchmarks' lm-eval workers, which run
in a child process (``from lm_eval_timing import time_loglikelihood``: a script's own folder is on
``sys.path``)."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["time_loglikelihood"]


def time_loglikelihood(lm: Any) -> list[float]:
    """Wrap ``lm.loglikelihood``; the returned one-item list holds the seconds spent in it so far."""
    spent = [0.0]
    scoring = lm.loglikelihood

    def timed(requests: Any, *rest: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return scoring(requests, *rest, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    lm.loglikelihood = timed
    return spent
