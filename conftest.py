"""Test-suite wiring: real local servers (a scripted OpenAI-compatible one and llama_cpp.server).

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

pytest_plugins = ["tests.servers.fixtures", "tests.servers.native_fixtures", "tests.servers.hf_fixtures"]
