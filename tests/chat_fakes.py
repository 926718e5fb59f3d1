"""A faked OpenAI-compatible chat endpoint, the only outside part of the chat drafter's tests.

`ChatEndpoint` is an httpx transport handler: it records each request's JSON body and headers
and answers `content` as the assistant's message with `status` (or `body` as it is, for a
malformed answer). `chat_drafter` wires it into a real
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

    def __init__(self, content: str | None = None, status: int = 200, body: Any = None) -> None:
        self.content, self.status, self.body = content, status, body
        self.requests: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        self.headers.append(request.headers)
        if self.body is not None:
            return httpx.Response(self.status, json=self.body)
        choice = {"message": {"role": "assistant", "content": self.content}}
        return httpx.Response(self.status, json={"choices": [choice]})


def chat_drafter(
    endpoint: ChatEndpoint, *, structured: bool = False, api_key: str | None = None
) -> ChatDrafter:
    """A chat drafter that talks to `endpoint` only."""
    return ChatDrafter(
        base_url="http://llm.test/v1",
        model="qwen2.5-1.5b",
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
        fallback=ExtractiveDrafter(),
        structured=structured,
        api_key=api_key,
    )
