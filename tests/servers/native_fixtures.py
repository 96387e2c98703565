"""Session fixtures for the native-protocol test servers (TGI, Triton, MindIE).

Load with ``pytest_plugins = ["tests.servers.native_fixtures"]`` or ``-p tests.servers.native_fixtures``.

- ``native_server_factory(protocol, replies, **config)``: start a ``NativeServer`` (see
  ``native_servers``); every server started is stopped at session end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .native_servers import NativeServer

__all__ = ["native_server_factory"]


@pytest.fixture(scope="session")
def native_server_factory() -> Iterator[Callable[..., NativeServer]]:
    from .native_servers import NativeServer

    started: list[NativeServer] = []

    def start(protocol: str, *args: Any, **config: Any) -> NativeServer:
        server = NativeServer(protocol, *args, **config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
