"""A fake Gemini API server: `POST /{version}/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, plain JSON and SSE, with Google's error bodies.

The key must come in `x-goog-api-key` (the google-genai SDK sends it there). Function calls carry
no `id`, as Gemini 2.x models send them; each call comes whole in one SSE chunk, as Gemini does.
A structured reply (`Reply.structured`) is the answer's text, as JSON, and needs a request whose
`generationConfig` asks for `application/json` with a `responseJsonSchema` (or `responseSchema`); like
the real API the fake refuses a schema without that MIME type, an unknown MIME type, or both schemas.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes import FakeVendor, Recorded, Seen, split, sse, structured_json

# Google's canonical status names for the HTTP statuses a test may script.
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
          499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE",
          504: "DEADLINE_EXCEEDED"}
MESSAGES = {429: "Resource has been exhausted (e.g. check quota).",
            500: "An internal error has occurred. Please retry or report in "
                 "https://developers.generativeai.google/guide/troubleshooting",
            503: "The model is overloaded. Please try again later."}
BAD_KEY_MESSAGE = "API key not valid. Please pass a valid API key."


def _get(d: dict[str, Any], camel: str) -> Any:
    """A field by its JSON name or its proto name (Google accepts both; the SDK sends some snake_case)."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return d.get(camel, d.get(snake))


MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")


def _config_problem(body: dict[str, Any]) -> str | None:
    config = _get(body, "generationConfig") or {}
    mime = _get(config, "responseMimeType")
    if mime is not None and mime not in MIME_TYPES:
        return ("* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are "
                "`text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.")
    has_schema = _get(config, "responseSchema") is not None
    has_json_schema = _get(config, "responseJsonSchema") is not None
    if has_schema and has_json_schema:
        return ("* GenerateContentRequest.generation_config: response_schema and response_json_schema "
                "cannot both be set.")
    if (has_schema or has_json_schema) and mime not in ("application/json", "text/x.enum"):
        return ("* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be "
                "one of ['application/json', 'text/x.enum'] when response_schema is set.")
    return None


def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = _get(body, "generationConfig") or {}
    if _get(config, "responseMimeType") != "application/json":
        return None
    return _get(config, "responseJsonSchema") or _get(config, "responseSchema")


def problem(body: Any) -> str | None:
    """What the real API would refuse with HTTP 400 INVALID_ARGUMENT, or None."""
    if not isinstance(body, dict) or not body.get("contents"):
        return "* GenerateContentRequest.contents: contents is not specified"
    if (refused := _config_problem(body)) is not None:
        return refused
    pending = 0  # function calls of the last model turn still waiting for their responses
    for i, content in enumerate(body["contents"]):
        role, parts = content.get("role", "user"), content.get("parts") or []
        if role not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{i}].role: {role!r})"
        if not parts:
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        calls = [_get(p, "functionCall") for p in parts if _get(p, "functionCall") is not None]
        responses = [_get(p, "functionResponse") for p in parts if _get(p, "functionResponse") is not None]
        if any(not c.get("name") for c in calls) or any(not r.get("name") for r in responses):
            return f"* GenerateContentRequest.contents[{i}]: function call and response parts need a name"
        if any(not isinstance(r.get("response", {}), dict) for r in responses):
            return f"* GenerateContentRequest.contents[{i}]: functionResponse.response must be an object"
        if responses and (role != "user" or len(responses) != pending):
            return ("Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn.")
        if calls and role != "model":
            return f"* GenerateContentRequest.contents[{i}]: function calls must come from the model"
        pending = len(calls)
    return None


def google_error(code: int, message: str, status: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message,
                             "status": status or STATUS.get(code, "INTERNAL" if code >= 500 else "FAILED_PRECONDITION")}
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=code)


def bad_key_error(code: int) -> web.Response:
    """What Google answers for an invalid key (the real API uses HTTP 400 with INVALID_ARGUMENT)."""
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
               {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                "message": BAD_KEY_MESSAGE}]
    return google_error(code, BAD_KEY_MESSAGE, "INVALID_ARGUMENT" if code == 400 else None, details)


class FakeGemini(FakeVendor):
    # `Reply(status=401)` is answered as a bad key with this HTTP status. The vendor-neutral tests
    # expect 401; the real Gemini API answers a bad key with 400 (set this to 400 to see that).
    bad_key_status = 401

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/{version}/models/{target}", self.handle)]

    def seen(self, body: dict[str, Any]) -> Seen:
        contents = body.get("contents") or []

        def is_user_turn(c: dict[str, Any]) -> bool:  # a user's words, not a content of tool results
            return c.get("role", "user") == "user" and not any(
                _get(p, "functionResponse") is not None for p in c.get("parts", []))

        last = max(i for i, c in enumerate(contents) if is_user_turn(c))
        parts = contents[last].get("parts", [])
        text = " ".join(p["text"] for p in parts if "text" in p)
        images = sum(1 for p in parts if _get(p, "inlineData") is not None)
        results = [json.dumps(_get(p, "functionResponse").get("response", {}))
                   for c in contents[last + 1:] if c.get("role", "user") == "user"
                   for p in c.get("parts", []) if _get(p, "functionResponse") is not None]
        tools = [d["name"] for t in body.get("tools") or [] for d in _get(t, "functionDeclarations") or []]
        return Seen(text, results, tools, images, requested_schema(body))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["target"].rpartition(":")
        if method not in ("generateContent", "streamGenerateContent") or not model:
            return google_error(404, f"Method not found: {request.match_info['target']}", "NOT_FOUND")
        streaming = method == "streamGenerateContent"
        if streaming and request.query.get("alt") != "sse":
            return google_error(400, "this fake only streams Server-Sent Events (alt=sse)")
        if not request.headers.get("x-goog-api-key"):
            # What the real API answers a request with no key at all.
            return google_error(403, "Method doesn't allow unregistered callers (callers without established "
                                "identity). Please use API Key or other form of API consumer identity to call "
                                "this API.", "PERMISSION_DENIED")
        raw = await request.read()
        try:
            sent: Any = json.loads(raw)
            refused = problem(sent)
        except json.JSONDecodeError:
            sent, refused = raw.decode(errors="replace"), "Invalid JSON payload received."
        if refused is not None:  # recorded, but no scripted reply is used up
            self.requests.append(Recorded(request.path, dict(request.headers), sent, dict(request.query)))
            return google_error(400, refused, "INVALID_ARGUMENT")
        body, reply = await self.record(request)
        if reply.status == 401:
            return bad_key_error(self.bad_key_status)
        if reply.status != 200:
            return google_error(reply.status, MESSAGES.get(reply.status, f"fake error {reply.status}"))

        prompt, output, cached = reply.usage
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": output,
                 "totalTokenCount": prompt + output}
        if cached:
            usage["cachedContentTokenCount"] = cached
        calls = [{"functionCall": {"name": name, "args": args}} for name, args in reply.tool_calls]
        text = reply.text if reply.structured is None else structured_json(reply, requested_schema(body))

        def response(parts: list[dict[str, Any]], finish: str | None = None,
                     usage_metadata: dict[str, Any] | None = None) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            out: dict[str, Any] = {"candidates": [candidate]}
            if usage_metadata:
                out["usageMetadata"] = usage_metadata
            out["modelVersion"] = model
            out["responseId"] = "fake-response-id"
            return out

        if not streaming:
            if reply.malformed:
                return web.Response(text='{"candidates": [{"content": ', content_type="application/json")
            parts = ([{"text": text}] if text else []) + calls
            return web.json_response(response(parts, "STOP", usage))

        # Gemini streams running usage totals; the last chunk has the final count and finishReason.
        pieces = split(text)
        events = [response([{"text": piece}], usage_metadata={"promptTokenCount": prompt,
                                                              "totalTokenCount": prompt})
                  for piece in pieces]
        if calls:
            events.append(response(calls))
        if not events:
            events.append(response([{"text": ""}]))
        last_parts = events[-1]["candidates"][0]["content"]["parts"]
        events[-1] = response(last_parts, "STOP", usage)
        lines = ["data: " + json.dumps(e) for e in events]
        if reply.malformed:
            lines.insert(1, "data: {this is not json")
        try:
            return await sse(request, lines)
        except ConnectionResetError:  # the client gave up (a timeout test): nobody left to answer
            return web.Response(status=499)
