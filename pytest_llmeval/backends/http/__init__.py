"""The ``http`` backend family: any JSON-over-HTTP service, described in the models file alone.

    backend.py   HTTPBackend (``backend: http``): one templated request, one reply read by path
    options.py   the profile's options, checked; presets.py: TGI, Triton, MindIE defaults
    template.py  body templates and the paths that read replies; sse.py: server-sent events
                 (also read by the ``openai`` family's streaming)

``HTTPBackend`` is importable from here, as before the family became a package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HTTPBackend"]


def __getattr__(name: str) -> Any:
    """``HTTPBackend`` on first use: importing the package stays cheap."""
    if name == "HTTPBackend":
        from .backend import HTTPBackend

        return HTTPBackend
    raise AttributeError(name)
