"""Results: the per-sample payload, aggregation into rows, intervals and the verdict.

Cheap to import: nothing here needs numpy, pandas or scipy.
"""

from __future__ import annotations

from .aggregate import Row, Summary, aggregate
from .stats import wilson_interval
from .verdict import failures

__all__ = ["Row", "Summary", "aggregate", "failures", "wilson_interval"]
