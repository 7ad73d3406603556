"""What every provider offers the agent loop, and the errors it may raise.

Errors carry a message that is safe to show the user (never a key, never a raw body) and say
whether retrying the same provider can help: 429, 5xx, timeouts and connection failures can;
a bad key or a bad request cannot.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Protocol

from assistant.messages import Attachment, Completion, CompletionRequest, Message, TextDelta, ToolCall


class Provider(Protocol):
    name: str
    model: str

    def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        """Yield text as it arrives, then exactly one `Completion` (text, tool calls, usage, cost)."""
        ...


class ProviderError(Exception):
    """The model provider could not answer; the message is safe to show (never holds a key)."""

    retryable = False

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryableError(ProviderError):
    """Rate limited, server error, timeout or connection failure: worth another try."""

    retryable = True


class FatalError(ProviderError):
    """A bad key, a bad request, an unknown model: retrying cannot fix it."""


class MalformedResponse(ProviderError):
    """The provider answered with something we could not read."""


def describe_status(status: int) -> str:
    return {
        400: "rejected the request (HTTP 400)", 401: "rejected the API key (HTTP 401)",
        403: "refused access with this key (HTTP 403)", 404: "does not know this model or endpoint (HTTP 404)",
        408: "timed out (HTTP 408)", 413: "found the request too large (HTTP 413)",
        422: "rejected the request (HTTP 422)", 429: "is rate limiting us (HTTP 429)",
        529: "is overloaded (HTTP 529)",
    }.get(status, f"failed with HTTP {status}" if status >= 500 else f"rejected the request (HTTP {status})")


def status_error(status: int) -> ProviderError:
    cls = RetryableError if status in (408, 409, 429) or status >= 500 else FatalError
    return cls(describe_status(status), status)


def last_user_images(messages: list[Message]) -> list[Attachment]:
    """Images attached to the newest user message: the only ones sent to a model."""
    for message in reversed(messages):
        if message.role == "user":
            return [a for a in message.attachments if a.path is not None and (a.mime or "").startswith("image/")]
    return []


async def image_base64(attachment: Attachment) -> str:
    data = await asyncio.to_thread(attachment.path.read_bytes)  # type: ignore[union-attr]
    return base64.b64encode(data).decode()


def parse_tool_call(call_id: str | None, name: str | None, arguments: str | dict | None) -> ToolCall:
    """A vendor's tool call (arguments as a JSON string or an object) as a ToolCall, or MalformedResponse."""
    if not name:
        raise MalformedResponse("sent a tool call without a name")
    if isinstance(arguments, dict):
        args = arguments
    else:
        try:
            args = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            raise MalformedResponse(f"sent arguments for {name} that are not JSON") from None
    if not isinstance(args, dict):
        raise MalformedResponse(f"sent arguments for {name} that are not an object")
    return ToolCall(call_id or f"call_{name}", name, args)
