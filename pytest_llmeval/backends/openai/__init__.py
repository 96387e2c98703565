"""The ``openai`` backend family: any OpenAI-compatible endpoint, and responses in its shape.

    chat.py      OpenAIChatBackend (``backend: openai``): chat completions, streamed or not
    logprobs.py  ``mode: ll`` through the completions endpoint (echo + logprobs), and which servers can
    response.py  OpenAIResponseBackend: your code returns OpenAI-format responses, this reads them

Nothing is imported here: the SDK loads only when the backend is built.
"""
