"""Test-suite wiring: real local servers (a scripted OpenAI-compatible one and llama_cpp.server).

Libraries with C extensions are imported here, once, because pytester's inline runs restore
``sys.modules`` afterwards and numpy refuses to be imported a second time in one process.
"""

import numpy  # noqa: F401
import openai  # noqa: F401
import pandas  # noqa: F401
import scipy.stats  # noqa: F401

pytest_plugins = ["tests.servers.fixtures"]
