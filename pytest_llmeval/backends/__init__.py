"""Model backends. Importing this package loads no SDK: each backend imports its own on first use.

The contract lives in ``base``; ``registry.create_backend`` maps a name onto a class.
"""

from __future__ import annotations

from .base import Backend, BackendSettings, GenerateRequest, LoglikelihoodRequest, Message, Reply

__all__ = ["Backend", "BackendSettings", "GenerateRequest", "LoglikelihoodRequest", "Message", "Reply"]
