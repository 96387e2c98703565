"""Test-suite wiring: real local servers (a scripted OpenAI-compatible one and llama_cpp.server)."""

pytest_plugins = ["tests.servers.fixtures"]
