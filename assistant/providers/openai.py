"""OpenAI, and any server that speaks its wire format (Ollama, vLLM, LM Studio), via the `openai` SDK.

Request: Chat Completions with `tools` (type function) and, when streaming,
`stream_options.include_usage` so the last chunk carries usage. Images of the newest user message
go as `image_url` data URLs. The SDK's own retries are off (`max_retries=0`): the fallback chain
is the one retry loop.

Structured output (`request.response_schema`): `response_format` json_schema with `strict: true`
(OpenAI then guarantees the schema; Ollama, vLLM and LM Studio accept the same field). The JSON
arrives as the message content. A refusal (strict mode's `refusal` instead of content) comes back
as empty text with finish_reason "content_filter".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI

from assistant.logs import request_headers
from assistant.messages import Completion, CompletionRequest, TextDelta, Usage
from assistant.providers.base import (
    MalformedResponse, ProviderError, RetryableError, image_base64, last_user_images, parse_tool_call,
    status_error,
)
from assistant.providers.pricing import Price


class OpenAIProvider:
    def __init__(self, *, model: str, api_key: str | None, base_url: str | None, timeout: float,
                 price: Price, name: str = "openai"):
        self.name, self.model, self.price = name, model, price
        # Local OpenAI-compatible servers take any key; the SDK insists on one.
        self.client = AsyncOpenAI(api_key=api_key or "no-key", base_url=base_url, timeout=timeout, max_retries=0)
        self._max_tokens_field = "max_completion_tokens" if name == "openai" else "max_tokens"

    async def _messages(self, request: CompletionRequest) -> list[dict[str, Any]]:
        images = last_user_images(request.messages)
        newest_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=-1)
        out: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
        for i, m in enumerate(request.messages):
            if m.role == "user":
                if i == newest_user and images:
                    parts: list[dict[str, Any]] = [{"type": "text", "text": m.content or "(see the attached image)"}]
                    for a in images:
                        url = f"data:{a.mime};base64,{await image_base64(a)}"
                        parts.append({"type": "image_url", "image_url": {"url": url}})
                    out.append({"role": "user", "content": parts})
                else:
                    out.append({"role": "user", "content": m.content})
            elif m.role == "assistant":
                entry: dict[str, Any] = {"role": "assistant", "content": m.content or None}
                if m.tool_calls:
                    entry["tool_calls"] = [
                        {"id": c.id, "type": "function",
                         "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                        for c in m.tool_calls
                    ]
                out.append(entry)
            elif m.role == "tool":
                out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        return out

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": await self._messages(request),
            "temperature": request.temperature,
            self._max_tokens_field: request.max_output_tokens,
            "extra_headers": request_headers(request.turn_id),
        }
        if request.tools:
            kwargs["tools"] = [{"type": "function", "function": t} for t in request.tools]
        if request.response_schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.response_name, "schema": request.response_schema, "strict": True}}
        try:
            if request.stream:
                async for item in self._streamed(kwargs):
                    yield item
            else:
                yield self._plain(await self.client.chat.completions.create(**kwargs))
        except ProviderError:
            raise
        except openai.APIStatusError as exc:
            raise status_error(exc.status_code) from None
        except openai.APITimeoutError:
            raise RetryableError("timed out") from None
        except openai.APIConnectionError:
            raise RetryableError("could not be reached") from None
        except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedResponse(f"sent an answer that could not be read ({type(exc).__name__})") from None

    async def _streamed(self, kwargs: dict[str, Any]) -> AsyncIterator[TextDelta | Completion]:
        stream = await self.client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True})
        texts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage, finish, refused = Usage(), "stop", False
        async for chunk in stream:
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta is not None and delta.content:
                    texts.append(delta.content)
                    yield TextDelta(delta.content)
                refused = refused or bool(delta is not None and getattr(delta, "refusal", None))
                for tc in (delta.tool_calls or []) if delta is not None else []:
                    slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    if tc.id:
                        slot["id"] = tc.id
                    if tc.function is not None:
                        slot["name"] += tc.function.name or ""
                        slot["arguments"] += tc.function.arguments or ""
                if choice.finish_reason:
                    finish = choice.finish_reason
        tool_calls = [parse_tool_call(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())]
        if refused and not texts:
            finish = "content_filter"
        yield Completion("".join(texts), tool_calls, usage, self.price.cost(usage), finish)

    def _plain(self, response) -> Completion:
        if not response.choices:
            raise MalformedResponse("sent an answer with no choices")
        choice = response.choices[0]
        message = choice.message
        tool_calls = [parse_tool_call(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
        usage = _usage(response.usage) if response.usage else Usage()
        finish = choice.finish_reason or "stop"
        if getattr(message, "refusal", None) and not message.content:
            finish = "content_filter"
        return Completion(message.content or "", tool_calls, usage, self.price.cost(usage), finish)


def _usage(u) -> Usage:
    details = getattr(u, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(u.prompt_tokens or 0, u.completion_tokens or 0, cached)


__all__ = ["OpenAIProvider"]
