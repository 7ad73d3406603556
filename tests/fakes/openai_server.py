"""A fake OpenAI Chat Completions server: `POST /v1/chat/completions`, plain JSON and SSE."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes import FakeVendor, Seen, split, sse


class FakeOpenAI(FakeVendor):
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self.handle)]

    def seen(self, body: dict[str, Any]) -> Seen:
        messages = body["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "user")
        content = messages[last]["content"]
        images = 0
        if isinstance(content, list):
            images = sum(1 for p in content if p.get("type") == "image_url")
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        results = [m["content"] for m in messages[last + 1:] if m["role"] == "tool"]
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        return Seen(content, results, tools, images)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"message": "no key", "type": "invalid_request_error"}}, status=401)
        body, reply = await self.record(request)
        if reply.status != 200:
            kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(reply.status, "server_error")
            return web.json_response({"error": {"message": f"fake error {reply.status}", "type": kind,
                                                "code": kind}}, status=reply.status)
        model = body["model"]
        calls = [(f"call_{i}_{name}", name, json.dumps(args)) for i, (name, args) in enumerate(reply.tool_calls)]
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1],
                 "total_tokens": reply.usage[0] + reply.usage[1],
                 "prompt_tokens_details": {"cached_tokens": reply.usage[2]}}
        if not body.get("stream"):
            if reply.malformed:
                return web.Response(text='{"id": "x", "choices": [', content_type="application/json")
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if calls:
                message["tool_calls"] = [{"id": cid, "type": "function", "function": {"name": n, "arguments": a}}
                                         for cid, n, a in calls]
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})

        def chunk(delta: dict[str, Any] | None, finish_reason: str | None = None, **extra) -> str:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            return "data: " + json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                          "created": int(time.time()), "model": model, "choices": choices, **extra})

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in split(reply.text)]
        for i, (cid, name, args) in enumerate(calls):
            events.append(chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                                 "function": {"name": name, "arguments": ""}}]}))
            events += [chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}) for piece in split(args)]
        if reply.malformed:
            events.append("data: {this is not json")
        events.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(chunk(None, usage=usage))
        events.append("data: [DONE]")
        return await sse(request, events)
