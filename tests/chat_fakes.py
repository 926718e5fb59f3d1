"""A faked OpenAI-compatible chat endpoint, the only outside part of the chat drafter's tests.

`ChatEndpoint` is an httpx transport handler: it records each request's JSON body and answers
`content` as the assistant's message with `status`. `chat_drafter` wires it into a real
`ChatDrafter` (extractive fallback) through `httpx.MockTransport`, so the prompt, the redaction,
the guardrails and the parsing of the answer are deshi's own code.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from deshi.drafting.extractive import ExtractiveDrafter
from deshi.drafting.remote import ChatDrafter

__all__ = ["ChatEndpoint", "chat_drafter"]


class ChatEndpoint:
    """An OpenAI-compatible chat endpoint that records requests and answers `content`."""

    def __init__(self, content: str, status: int = 200) -> None:
        self.content = content
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        choice = {"message": {"role": "assistant", "content": self.content}}
        return httpx.Response(self.status, json={"choices": [choice]})


def chat_drafter(endpoint: ChatEndpoint, *, structured: bool = False) -> ChatDrafter:
    """A chat drafter that talks to `endpoint` only."""
    return ChatDrafter(
        base_url="http://llm.test/v1",
        model="qwen2.5-1.5b",
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
        fallback=ExtractiveDrafter(),
        structured=structured,
    )
