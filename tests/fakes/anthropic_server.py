"""A fake Anthropic Messages API server: `POST /v1/messages`, plain JSON and SSE.

Like the real API it wants a key (`x-api-key`, or `Authorization: Bearer` as SDK 2.12 sends it) and an
`anthropic-version` header, and answers 400 `invalid_request_error` to a request the real API would
refuse: a missing field, a sampling parameter (API version 2026-10-21 refuses temperature/top_p/top_k),
a role other than user/assistant, empty content or an empty text block, a `tool_result` that answers no
`tool_use` of the assistant message just before it, or a `tool_use` left unanswered; a tool without a
valid name or an object `input_schema`, two tools of one name, a `tool_choice` of an unknown type,
without tools, or naming a tool that is not among them.
A structured reply (`Reply.structured`) is the input of the tool `tool_choice` forces, as the real
API answers such a request (stop_reason "tool_use").
`Reply.usage = (input, output, cached)` is reported the Anthropic way: `input_tokens` excludes the
`cached` tokens, which come as `cache_read_input_tokens`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

from tests.fakes import FakeVendor, Recorded, Seen, split, sse, structured_json

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}

SAMPLING = ("temperature", "top_p", "top_k")


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])


def _result_text(content: Any) -> str:
    """A tool_result's content: a string, or a list of text blocks."""
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if b.get("type") == "text")


def _tools_problem(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    names: list[str] = []
    for i, tool in enumerate(tools or []):
        name = tool.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            return f"tools.{i}.custom.input_schema: Field required"
        if schema.get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
        names.append(name)
    if len(set(names)) != len(names):
        return "tools: Tool names must be unique."
    choice = body.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        return ("tool_choice: Input tag '{}' found using 'type' does not match any of the expected tags: "
                "'auto', 'any', 'tool', 'none'".format(kind))
    if kind in ("any", "tool") and not names:
        return "tool_choice: tool_choice may only be specified while providing tools."
    if kind == "tool":
        if not choice.get("name"):
            return "tool_choice.tool.name: Field required"
        if choice["name"] not in names:
            return f"tool_choice.tool.name: Tool '{choice['name']}' not found in provided tools"
    return None


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a `tool_choice` of type "tool" forces (its answer is the structured reply), or None."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") != "tool":
        return None
    return next((t for t in body.get("tools") or [] if t.get("name") == choice.get("name")), None)


def _problem(body: Any) -> str | None:
    """Why the real API would refuse this request (400), or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if (problem := _tools_problem(body)) is not None:
        return problem
    for name in SAMPLING:  # anthropic-version 2026-10-21 (what SDK 2.x sends) dropped them
        if name in body:
            return f"{name}: Extra inputs are not permitted"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, m in enumerate(messages):
        if m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant' (use the top-level system parameter)"
        blocks = _blocks(m.get("content"))
        if not blocks and i != len(messages) - 1:
            return f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
        uses = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
        if uses:
            after = _blocks(messages[i + 1].get("content")) if i + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in after if b.get("type") == "tool_result"}
            if i + 1 < len(messages) and not uses <= answered:
                return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                        f"after: {', '.join(sorted(uses - answered))}")
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if results:
            before = _blocks(messages[i - 1].get("content")) if i > 0 and messages[i - 1]["role"] == "assistant" else []
            known = {b.get("id") for b in before if b.get("type") == "tool_use"}
            unknown = [r for r in results if r not in known]
            if unknown:
                return (f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: {unknown[0]}. "
                        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
    return None


class FakeAnthropic(FakeVendor):
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.handle)]

    def seen(self, body: dict[str, Any]) -> Seen:
        messages = body["messages"]

        def is_user_turn(m: dict[str, Any]) -> bool:  # a user message that is not only tool results
            return m["role"] == "user" and any(b.get("type") != "tool_result" for b in _blocks(m["content"]))

        last = max(i for i, m in enumerate(messages) if is_user_turn(m))
        blocks = _blocks(messages[last]["content"])
        text = " ".join(b["text"] for b in blocks if b.get("type") == "text")
        images = sum(1 for b in blocks if b.get("type") == "image")
        results = [_result_text(b.get("content")) for m in messages[last + 1:] if m["role"] == "user"
                   for b in _blocks(m["content"]) if b.get("type") == "tool_result"]
        tools = [t["name"] for t in body.get("tools", [])]
        forced = forced_tool(body)
        return Seen(text, results, tools, images, forced["input_schema"] if forced else None)

    @staticmethod
    def error(status: int, message: str) -> web.Response:
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        request_id = f"req_fake{uuid.uuid4().hex[:20]}"
        return web.json_response({"type": "error", "error": {"type": kind, "message": message},
                                  "request_id": request_id}, status=status, headers={"request-id": request_id})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not key.strip():
            return self.error(401, "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        raw = await request.read()
        try:
            sent: Any = json.loads(raw)
            problem = _problem(sent)
        except json.JSONDecodeError:
            sent, problem = raw.decode(errors="replace"), "the body is not valid JSON"
        if problem is not None:  # recorded, but no scripted reply is used up
            self.requests.append(Recorded(request.path, dict(request.headers), sent, dict(request.query)))
            return self.error(400, problem)
        body, reply = await self.record(request)
        if reply.status != 200:
            return self.error(reply.status, f"fake error {reply.status}")
        model = body["model"]
        message_id = f"msg_fake{uuid.uuid4().hex[:20]}"
        calls = [(f"toolu_fake{i}{uuid.uuid4().hex[:12]}", name, args) for i, (name, args) in enumerate(reply.tool_calls)]
        if reply.structured is not None:  # the forced tool's input is the answer
            forced = forced_tool(body)
            answer = json.loads(structured_json(reply, forced["input_schema"] if forced else None))
            calls = [(f"toolu_fake{uuid.uuid4().hex[:12]}", forced["name"], answer)]  # type: ignore[index]
        stop_reason = "tool_use" if calls else "end_turn"
        total, output, cached = reply.usage
        usage = {"input_tokens": total - cached, "output_tokens": output,
                 "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}

        if not body.get("stream"):
            if reply.malformed:
                return web.Response(text='{"id": "msg_x", "type": "message", "content": [',
                                    content_type="application/json")
            content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
            content += [{"type": "tool_use", "id": cid, "name": name, "input": args} for cid, name, args in calls]
            return web.json_response({
                "id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop_reason, "stop_sequence": None, "usage": usage})

        def event(kind: str, **data: Any) -> str:
            return f"event: {kind}\ndata: " + json.dumps({"type": kind, **data})

        events = [event("message_start", message={
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}})]
        events.append(event("ping"))
        index = 0
        if reply.text:
            events.append(event("content_block_start", index=index, content_block={"type": "text", "text": ""}))
            events += [event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
                       for piece in split(reply.text)]
            if reply.malformed:
                events.append("event: content_block_delta\ndata: {this is not json")
            events.append(event("content_block_stop", index=index))
            index += 1
        for cid, name, args in calls:
            events.append(event("content_block_start", index=index,
                                content_block={"type": "tool_use", "id": cid, "name": name, "input": {}}))
            pieces = [""] + split(json.dumps(args))  # the real API opens with an empty partial_json
            events += [event("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": p})
                       for p in pieces]
            events.append(event("content_block_stop", index=index))
            index += 1
        if reply.malformed and not reply.text:
            events.append("event: message_delta\ndata: {this is not json")
        events.append(event("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None},
                            usage=usage))  # cumulative counts, as the current API sends them
        events.append(event("message_stop"))
        return await sse(request, events)
