"""Test-suite wiring: real local servers (a scripted OpenAI-compatible one and llama_cpp.server).

It lives in ``tests/``, not at the root, because pytest loads a root conftest for every run in the
checkout, ``pytest example_suites/`` included: that run must need nothing beyond
``pip install -e '.[llamacpp]'``, while this file imports test-only packages (scipy). The shared
fixtures are imported here rather than named in ``pytest_plugins``, which pytest accepts only in
a conftest it loads before the run starts.

Libraries with C extensions are imported here, once, because pytester's inline runs restore
``sys.modules`` afterwards and numpy refuses to be imported a second time in one process.
httpcore2 likewise: httpx2 maps its exceptions through a table filled on first use, and a second
copy imported inside an inline run would raise exceptions that table does not know.
"""

import httpcore2  # noqa: F401
import numpy  # noqa: F401
import openai  # noqa: F401
import pandas  # noqa: F401
import scipy.stats  # noqa: F401

from tests.servers.fixtures import corpus_server, fake_openai_factory, llama_server_url, smollm2_backend  # noqa: F401
from tests.servers.hf_fixtures import hf_backend  # noqa: F401
from tests.servers.native_fixtures import native_server_factory  # noqa: F401
from tests.servers.redis_server import redis_server  # noqa: F401
