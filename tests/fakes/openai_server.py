"""A fake OpenAI Chat Completions server: `POST /v1/chat/completions`, plain JSON and SSE.

Like the real API it answers 400 `invalid_request_error` to a `response_format` it would refuse: an
unknown type, a json_schema without a valid name, and, in strict mode, a schema whose root is not an
object or any object of which lacks `additionalProperties: false` or leaves a property out of
`required` (strict mode makes every property required; optional ones are nullable types).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from tests.fakes import FakeVendor, Recorded, Seen, split, sse, structured_json


def _object_problem(schema: dict[str, Any], context: tuple[str, ...]) -> str | None:
    """Why strict mode refuses this (sub)schema, in the words of the real API, or None."""
    types_ = schema.get("type")
    is_object = types_ == "object" or (isinstance(types_, list) and "object" in types_)
    where = f"In context={context!r}"
    if is_object:
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        required = schema.get("required")
        missing = [k for k in properties if not isinstance(required, list) or k not in required]
        if missing:
            return (f"{where}, 'required' is required to be supplied and to be an array including every key in "
                    f"properties. Missing '{missing[0]}'.")
        for key, sub in properties.items():
            if (problem := _object_problem(sub, (*context, "properties", key))) is not None:
                return problem
    for key in ("items",):
        if isinstance(schema.get(key), dict) and (problem := _object_problem(schema[key], (*context, key))):
            return problem
    for key in ("anyOf",):
        for i, sub in enumerate(schema.get(key) or []):
            if (problem := _object_problem(sub, (*context, key, str(i)))) is not None:
                return problem
    for name, sub in (schema.get("$defs") or {}).items():
        if (problem := _object_problem(sub, (*context, "$defs", name))) is not None:
            return problem
    return None


def response_format_problem(body: dict[str, Any]) -> str | None:
    """Why the real API would refuse this request's `response_format` (400), or None."""
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        return (f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'. "
                "(param: response_format.type)")
    if kind != "json_schema":
        return None
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or "name" not in spec:
        return "Missing required parameter: 'response_format.json_schema.name'."
    name = spec["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        return f"Invalid 'response_format.json_schema.name': string does not match pattern. Received {name!r}."
    schema = spec.get("schema")
    if spec.get("strict"):
        if not isinstance(schema, dict) or schema.get("type") != "object":
            got = schema.get("type") if isinstance(schema, dict) else None
            return (f"Invalid schema for response_format '{name}': schema must be a JSON Schema of "
                    f"'type: \"object\"', got 'type: \"{got}\"'.")
        problem = _object_problem(schema, ())
        if problem is not None:
            return f"Invalid schema for response_format '{name}': {problem}"
    return None


def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None


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
        return Seen(content, results, tools, images, requested_schema(body))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"message": "no key", "type": "invalid_request_error"}}, status=401)
        raw = await request.read()
        try:
            sent: Any = json.loads(raw)
            problem = response_format_problem(sent) if isinstance(sent, dict) else "the body is not a JSON object"
        except json.JSONDecodeError:
            sent, problem = raw.decode(errors="replace"), "We could not parse the JSON body of your request."
        if problem is not None:  # recorded, but no scripted reply is used up
            self.requests.append(Recorded(request.path, dict(request.headers), sent, dict(request.query)))
            return web.json_response({"error": {"message": problem, "type": "invalid_request_error",
                                                "param": "response_format", "code": None}}, status=400)
        body, reply = await self.record(request)
        if reply.status != 200:
            kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(reply.status, "server_error")
            return web.json_response({"error": {"message": f"fake error {reply.status}", "type": kind,
                                                "code": kind}}, status=reply.status)
        model = body["model"]
        text = reply.text if reply.structured is None else structured_json(reply, requested_schema(body))
        calls = [(f"call_{i}_{name}", name, json.dumps(args)) for i, (name, args) in enumerate(reply.tool_calls)]
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1],
                 "total_tokens": reply.usage[0] + reply.usage[1],
                 "prompt_tokens_details": {"cached_tokens": reply.usage[2]}}
        if not body.get("stream"):
            if reply.malformed:
                return web.Response(text='{"id": "x", "choices": [', content_type="application/json")
            message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
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
        events += [chunk({"content": piece}) for piece in split(text)]
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
