"""Local fake model vendors on 127.0.0.1 that speak each vendor's real wire format.

A fake answers each request with the next scripted `Reply` (or, when the script is empty, with
what its `responder` returns for a vendor-neutral view of the request). It records every request
(path, headers, JSON body) so tests can check what the real SDK sent.

Structured output: `Reply(structured={...})` answers a request that asked for one JSON object of a
schema, in the vendor's own way (OpenAI: the message content; Anthropic: the forced tool's input;
Gemini: the text). Like the real APIs, which guarantee the schema, a fake answers it only to a request
that asked for it and only if the object fits the schema; anything else is a mistake in the test and
fails the request with HTTP 500 (`StructuredMismatch`).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    usage: tuple[int, int, int] = (12, 7, 0)  # input, output, cached input tokens
    status: int = 200  # anything else: the vendor's error body with this status
    malformed: bool = False  # a 200 whose body (or an SSE event) is not valid JSON
    delay: float = 0.0  # seconds to wait before answering (for timeouts)
    structured: dict[str, Any] | None = None  # the JSON object answering a structured-output request


@dataclass
class Seen:
    """What a model would see in a request, whatever the vendor."""

    last_user: str
    tool_results: list[str]  # results sent after the last user message, in order
    tools: list[str]
    images: int = 0
    schema: dict[str, Any] | None = None  # the JSON Schema of a requested structured output


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str]


class StructuredMismatch(AssertionError):
    """A test scripted a structured reply the request did not ask for, or that breaks its schema."""


def structured_json(reply: Reply, schema: dict[str, Any] | None) -> str:
    """The scripted structured object as the JSON text a vendor sends, checked against the schema."""
    import jsonschema

    if schema is None:
        raise StructuredMismatch("a structured reply was scripted for a request that asked for no schema")
    try:
        jsonschema.validate(reply.structured, schema)
    except jsonschema.ValidationError as exc:
        raise StructuredMismatch(f"the scripted structured reply breaks the requested schema: {exc.message}") from None
    return json.dumps(reply.structured, ensure_ascii=False)


class FakeVendor:
    """Subclasses add routes and render a Reply in their vendor's format."""

    def __init__(self, responder: Callable[[Seen], Reply] | None = None):
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.responder = responder
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- scripting ---
    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self, body: Any) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None:
            return self.responder(self.seen(body))
        raise AssertionError(f"{type(self).__name__}: no scripted reply left for request {len(self.requests)}")

    def seen(self, body: Any) -> Seen:  # pragma: no cover - each vendor implements it
        raise NotImplementedError

    # --- server ---
    def routes(self) -> list[web.RouteDef]:  # pragma: no cover - each vendor implements it
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeVendor:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def record(self, request: web.Request) -> tuple[Any, Reply]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        self.requests.append(Recorded(request.path, dict(request.headers), body, dict(request.query)))
        reply = self.next_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return body, reply


async def sse(request: web.Request, events: list[str]) -> web.StreamResponse:
    """Send `events` (each already formatted, e.g. 'data: {...}') as Server-Sent Events."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for event in events:
        await response.write(event.encode() + b"\n\n")
        await asyncio.sleep(0)
    await response.write_eof()
    return response


def split(text: str, parts: int = 3) -> list[str]:
    """`text` in `parts` pieces (for streaming text and tool arguments in fragments)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i:i + size] for i in range(0, len(text), size)]
