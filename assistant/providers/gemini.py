"""Google Gemini (Gemini API mode, not Vertex AI) via the `google-genai` SDK.

Request: `generate_content` / `generate_content_stream` with the system prompt as
`system_instruction`, the conversation as `contents` (roles "user" and "model"), and the tools as
one `Tool` of function declarations whose parameters are raw JSON Schema (`parameters_json_schema`).
Tool calls go back as `function_call` parts, their results as `function_response` parts in one
user-role content. Images of the newest user message go as `inline_data` parts.

Gemini may send function calls without an id: each then gets `call_{i}_{name}`, and its result is
matched by name and order as well as id. The SDK's own retries are off (`HttpRetryOptions(attempts=1)`,
which also stops its hidden one-off retry of aiohttp connection errors) and so is its automatic
function calling: the fallback chain is the one retry loop, the agent the one tool runner.

Structured output (`request.response_schema`): `response_mime_type` "application/json" with the schema
as `response_json_schema` (full JSON Schema, e.g. `"type": ["string", "null"]`; the older
`response_schema` takes only Google's OpenAPI subset). The JSON arrives as the answer's text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from assistant.logs import request_headers
from assistant.messages import Completion, CompletionRequest, Message, TextDelta, ToolCall, Usage
from assistant.providers.base import (
    FatalError, MalformedResponse, ProviderError, RetryableError, last_user_images, status_error,
)
from assistant.providers.pricing import Price


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, connection failures) of whichever HTTP stack the SDK uses (aiohttp when installed)."""
    timeouts: list[type[BaseException]] = [asyncio.TimeoutError, aiohttp.ServerTimeoutError]
    connection: list[type[BaseException]] = [aiohttp.ClientConnectionError, aiohttp.ClientPayloadError]
    for module in ("httpx", "httpx2"):
        try:
            lib = __import__(module)
        except ImportError:
            continue
        timeouts.append(lib.TimeoutException)
        connection.append(lib.TransportError)
    return tuple(timeouts), tuple(connection)


TIMEOUTS, CONNECTION_ERRORS = _transport_errors()

FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
          "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
          "IMAGE_SAFETY": "content_filter"}


class GeminiProvider:
    def __init__(self, *, model: str, api_key: str | None, base_url: str | None, timeout: float,
                 price: Price, name: str = "gemini"):
        self.name, self.model, self.price = name, model, price
        self.client = genai.Client(api_key=api_key, http_options=types.HttpOptions(
            base_url=base_url, timeout=int(timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1)))

    async def _contents(self, request: CompletionRequest) -> list[types.Content]:
        images = last_user_images(request.messages)
        newest_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=-1)
        names = {c.id: c.name for m in request.messages for c in m.tool_calls}
        out: list[types.Content] = []
        for i, m in enumerate(request.messages):
            if m.role == "user":
                if i == newest_user and images:
                    parts = [types.Part(text=m.content or "(see the attached image)")]
                    for a in images:
                        data = await asyncio.to_thread(a.path.read_bytes)  # type: ignore[union-attr]
                        parts.append(types.Part(inline_data=types.Blob(data=data, mime_type=a.mime)))
                    out.append(types.Content(role="user", parts=parts))
                else:
                    out.append(types.Content(role="user", parts=[types.Part(text=m.content)]))
            elif m.role == "assistant":
                parts = [types.Part(text=m.content)] if m.content else []
                parts += [types.Part(function_call=types.FunctionCall(id=c.id, name=c.name, args=c.arguments))
                          for c in m.tool_calls]
                if parts:  # Gemini refuses a content with no parts
                    out.append(types.Content(role="model", parts=parts))
            elif m.role == "tool":
                name = m.name or names.get(m.tool_call_id or "") or "tool"
                part = types.Part(function_response=types.FunctionResponse(
                    id=m.tool_call_id, name=name, response=_response(m)))
                previous = out[-1] if out else None
                if previous is not None and previous.role == "user" and previous.parts \
                        and all(p.function_response is not None for p in previous.parts):
                    previous.parts.append(part)  # consecutive results share one content
                else:
                    out.append(types.Content(role="user", parts=[part]))
        return out

    def _config(self, request: CompletionRequest) -> types.GenerateContentConfig:
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        if request.turn_id:  # merged with the client's options (retries stay off)
            config.http_options = types.HttpOptions(headers=request_headers(request.turn_id))
        if "flash" in self.model:
            # 2.5 Flash models think by default, and thinking counts against max_output_tokens (and is
            # billed as output): a tool-calling bill assistant does not need it, so it is switched off.
            # Pro models cannot switch it off; they keep the default.
            config.thinking_config = types.ThinkingConfig(thinking_budget=0)
        if request.response_schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = request.response_schema
        if request.tools:
            config.tools = [types.Tool(function_declarations=[
                types.FunctionDeclaration(name=t["name"], description=t.get("description") or None,
                                          parameters_json_schema=t.get("parameters") or None)
                for t in request.tools])]
        return config

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        kwargs: dict[str, Any] = {"model": self.model, "contents": await self._contents(request),
                                  "config": self._config(request)}
        try:
            if request.stream:
                async for item in self._streamed(kwargs):
                    yield item
            else:
                yield self._plain(await self.client.aio.models.generate_content(**kwargs))
        except ProviderError:
            raise
        except genai_errors.APIError as exc:
            raise _api_error(exc) from None
        except TIMEOUTS:
            raise RetryableError("timed out") from None
        except (*CONNECTION_ERRORS, OSError):
            raise RetryableError("could not be reached") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # incl. JSON and pydantic errors
            raise MalformedResponse(f"sent an answer that could not be read ({type(exc).__name__})") from None

    async def _streamed(self, kwargs: dict[str, Any]) -> AsyncIterator[TextDelta | Completion]:
        stream = await self.client.aio.models.generate_content_stream(**kwargs)
        texts: list[str] = []
        calls: list[types.FunctionCall] = []
        usage, finish, answered, blocked = Usage(), None, False, False
        async for chunk in stream:
            if chunk.usage_metadata is not None:  # a running total: the last one counts
                usage = _usage(chunk.usage_metadata)
            blocked = blocked or _blocked(chunk)
            for candidate in (chunk.candidates or [])[:1]:
                answered = True
                for part in (candidate.content.parts or []) if candidate.content else []:
                    if part.text and not part.thought:
                        texts.append(part.text)
                        yield TextDelta(part.text)
                    if part.function_call is not None:
                        calls.append(part.function_call)
                if candidate.finish_reason:
                    finish = candidate.finish_reason
        if not answered:
            if not blocked:
                raise MalformedResponse("sent an answer with no candidates")
            finish = "content_filter"
        tool_calls = _tool_calls(calls)
        yield Completion("".join(texts), tool_calls, usage, self.price.cost(usage), _finish(finish, tool_calls))

    def _plain(self, response: types.GenerateContentResponse) -> Completion:
        usage = _usage(response.usage_metadata) if response.usage_metadata else Usage()
        if not response.candidates:
            if _blocked(response):  # the prompt itself was blocked: no candidate at all
                return Completion("", [], usage, self.price.cost(usage), "content_filter")
            raise MalformedResponse("sent an answer with no candidates")
        candidate = response.candidates[0]
        parts = (candidate.content.parts or []) if candidate.content else []
        text = "".join(p.text for p in parts if p.text and not p.thought)
        tool_calls = _tool_calls([p.function_call for p in parts if p.function_call is not None])
        return Completion(text, tool_calls, usage, self.price.cost(usage), _finish(candidate.finish_reason, tool_calls))


def _blocked(response: types.GenerateContentResponse) -> bool:
    return response.prompt_feedback is not None and bool(response.prompt_feedback.block_reason)


def _response(m: Message) -> dict[str, Any]:
    """A tool result as Gemini's `FunctionResponse.response` object: the decoded result (an object),
    with failures under "error" as Gemini documents."""
    try:
        value = m.result()
    except json.JSONDecodeError:
        value = m.content
    if not isinstance(value, dict):
        value = {"error" if m.is_error else "output": value}
    elif m.is_error and "error" not in value:
        value = {"error": value}
    return value


def _usage(u: types.GenerateContentResponseUsageMetadata) -> Usage:
    # promptTokenCount includes the cached tokens, as our Usage.input_tokens does. Thinking tokens
    # (thoughtsTokenCount, not part of candidatesTokenCount) are billed as output, so they count as output.
    output = (u.candidates_token_count or 0) + (u.thoughts_token_count or 0)
    return Usage(u.prompt_token_count or 0, output, u.cached_content_token_count or 0)


def _tool_calls(calls: list[types.FunctionCall]) -> list[ToolCall]:
    out = []
    for i, call in enumerate(calls):
        if not call.name:
            raise MalformedResponse("sent a tool call without a name")
        args = call.args if call.args is not None else {}
        if not isinstance(args, dict):
            raise MalformedResponse(f"sent arguments for {call.name} that are not an object")
        out.append(ToolCall(call.id or f"call_{i}_{call.name}", call.name, args))
    return out


def _finish(reason: types.FinishReason | str | None, tool_calls: list[ToolCall]) -> str:
    if tool_calls:
        return "tool_calls"
    if reason is None:
        return "stop"
    value = str(getattr(reason, "value", reason))
    if value in ("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"):  # the call itself was dropped
        raise MalformedResponse("sent a tool call that could not be read")
    return FINISH.get(value, value.lower())


def _api_error(exc: genai_errors.APIError) -> ProviderError:
    code = exc.code if isinstance(exc.code, int) else 0
    if code in (400, 401, 403) and (code == 401 or _is_key_problem(exc)):
        return FatalError(f"rejected the API key (HTTP {code})", code)
    if code < 400:
        return MalformedResponse(f"sent an error that could not be read (HTTP {code or 'unknown'})", code or None)
    return status_error(code)


def _is_key_problem(exc: genai_errors.APIError) -> bool:
    """Google answers a bad key with HTTP 400 (INVALID_ARGUMENT, reason API_KEY_INVALID), sometimes 401/403."""
    details = exc.details if isinstance(exc.details, dict) else {}
    error = details.get("error", details)
    reasons = [d.get("reason") or "" for d in (error.get("details") or []) if isinstance(d, dict)] \
        if isinstance(error, dict) else []
    if any(r.startswith("API_KEY") for r in reasons):
        return True
    return "api key" in (exc.message or "").lower() or exc.status == "UNAUTHENTICATED"


__all__ = ["GeminiProvider"]
