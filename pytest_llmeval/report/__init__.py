"""Reports rendered from a results Summary: terminal lines and the files in ``--llm-report-dir``.

Cheap to import (standard library only); pandas is not needed to write any of them.
"""

from __future__ import annotations

from .files import CSV_COLUMNS, SamplesWriter, results_document, write_results_csv, write_results_json
from .terminal import Line, summary_lines

__all__ = ["CSV_COLUMNS", "Line", "SamplesWriter", "results_document", "summary_lines", "write_results_csv",
           "write_results_json"]
