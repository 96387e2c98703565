"""``python -m pytest_llmeval merge ...`` (or ``doctor``), the same as the ``pytest-llmeval`` command."""

from .cli import main

raise SystemExit(main())
