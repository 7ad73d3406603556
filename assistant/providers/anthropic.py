"""Anthropic Claude, via the `anthropic` SDK (Messages API).

Request: `system` as its own parameter; messages alternate user/assistant (consecutive messages of one
role are merged). An assistant turn with tool calls becomes `text` + `tool_use` blocks; the tool
results that answer it go back as ONE user message of `tool_result` blocks. Images of the newest user
message go as base64 `image` blocks. Streaming reads the SDK's raw events (message_start,
content_block_start/delta/stop, message_delta, message_stop). The SDK's own retries are off
(`max_retries=0`): the fallback chain is the one retry loop.

`request.temperature` is NOT sent: SDK 2.x has no sampling parameters and the API version it speaks
(2026-10-21) answers 400 to temperature/top_p/top_k, whatever their value.

Structured output (`request.response_schema`): one more tool, named `request.response_name`, whose
input schema is the requested schema, and `tool_choice` {"type": "tool"} naming it: every Claude model
with tool use supports that (the SDK's `output_config.format` needs a model with native structured
outputs). The forced call's input is the answer: it becomes `Completion.text` (JSON), not a tool call,
and streams as text.

Usage: Anthropic reports `input_tokens` WITHOUT the tokens read from or written to the prompt cache;
the common `Usage.input_tokens` counts all input, so the three are added up, and `cached_tokens` is the
part read from the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic

from assistant.logs import request_headers
from assistant.messages import Completion, CompletionRequest, Message, TextDelta, Usage
from assistant.providers.base import (
    MalformedResponse, ProviderError, RetryableError, image_base64, last_user_images, parse_tool_call,
    status_error,
)
from assistant.providers.pricing import Price

# stop_reason -> the common finish_reason (OpenAI's names, which the rest of the code uses)
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
          "model_context_window_exceeded": "length", "refusal": "content_filter", "pause_turn": "pause_turn"}

# An `error` event inside a 200 stream carries no HTTP status: the status its error type stands for.
ERROR_TYPE_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                     "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                     "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529}

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class AnthropicProvider:
    def __init__(self, *, model: str, api_key: str | None, base_url: str | None, timeout: float,
                 price: Price, name: str = "anthropic"):
        self.name, self.model, self.price = name, model, price
        self.client = AsyncAnthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    async def _messages(self, request: CompletionRequest) -> list[dict[str, Any]]:
        images = [a for a in last_user_images(request.messages) if a.mime in IMAGE_TYPES]
        newest_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=-1)
        out: list[dict[str, Any]] = []

        def add(role: str, blocks: list[dict[str, Any]]) -> None:
            if not blocks:  # Anthropic refuses empty messages; an empty turn adds nothing
                return
            if out and out[-1]["role"] == role:  # roles must alternate: merge into the previous one
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})

        for i, m in enumerate(request.messages):
            if m.role == "user":
                blocks: list[dict[str, Any]] = []
                if i == newest_user and images:  # Anthropic advises images before the text about them
                    for a in images:
                        blocks.append({"type": "image", "source": {"type": "base64", "media_type": a.mime,
                                                                   "data": await image_base64(a)}})
                    blocks.append({"type": "text", "text": m.content or "(see the attached image)"})
                else:
                    blocks.append({"type": "text", "text": m.content or "(empty message)"})
                add("user", blocks)
            elif m.role == "assistant":
                blocks = [{"type": "text", "text": m.content}] if m.content.strip() else []
                blocks += [{"type": "tool_use", "id": _tool_id(c.id, c.name), "name": c.name, "input": c.arguments}
                           for c in m.tool_calls]
                add("assistant", blocks)
            elif m.role == "tool":
                add("user", [_tool_result(m)])
        return out

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": await self._messages(request),
            "max_tokens": request.max_output_tokens,
            "extra_headers": request_headers(request.turn_id),
            # No `temperature`: SDK 2.x dropped the sampling parameters, and the API version it sends
            # (anthropic-version 2026-10-21) refuses temperature/top_p/top_k with a 400.
        }
        if request.system:
            kwargs["system"] = request.system
        tools = [{"name": t["name"], "description": t.get("description", ""),
                  "input_schema": t.get("parameters") or {"type": "object", "properties": {}}}
                 for t in request.tools]
        structured = None
        if request.response_schema is not None:
            structured = request.response_name
            tools.append({"name": structured, "description": "Give your answer as this tool's input.",
                          "input_schema": request.response_schema})
            kwargs["tool_choice"] = {"type": "tool", "name": structured}
        if tools:
            kwargs["tools"] = tools
        try:
            if request.stream:
                async for item in self._streamed(kwargs, structured):
                    yield item
            else:
                yield self._plain(await self.client.messages.create(**kwargs), structured)
        except ProviderError:
            raise
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            if status < 400:  # an `error` event inside a streamed 200 answer
                status = ERROR_TYPE_STATUS.get(exc.type or "", 500)
            raise status_error(status) from None
        except (anthropic.APITimeoutError, httpx2.TimeoutException):
            raise RetryableError("timed out") from None
        except (anthropic.APIConnectionError, httpx2.TransportError):  # httpx2: the stream broke mid-answer
            raise RetryableError("could not be reached") from None
        except (anthropic.AnthropicError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedResponse(f"sent an answer that could not be read ({type(exc).__name__})") from None

    async def _streamed(self, kwargs: dict[str, Any], structured: str | None) -> AsyncIterator[TextDelta | Completion]:
        stream = await self.client.messages.create(**kwargs, stream=True)
        texts: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}  # tool_use blocks by index: id, name, partial JSON
        counts: dict[str, int] = {}
        stop_reason, finished = None, False
        async with stream:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    counts.update(_counts(event.message.usage))
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "text" and block.text:
                        texts.append(block.text)
                        yield TextDelta(block.text)
                    elif block.type == "tool_use":
                        start = json.dumps(block.input) if block.input else ""
                        blocks[event.index] = {"id": block.id, "name": block.name, "json": start}
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        texts.append(delta.text)
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta":
                        slot = blocks.get(event.index)
                        if slot is None:
                            raise MalformedResponse("sent tool arguments for a block it never started")
                        if slot["json"] and not slot.get("streamed"):
                            slot["json"] = ""  # the start block's input is replaced by the streamed JSON
                        slot["streamed"] = True
                        slot["json"] += delta.partial_json or ""
                        if slot["name"] == structured and delta.partial_json:
                            yield TextDelta(delta.partial_json)  # the structured answer is the text
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None:  # cumulative counts; input ones only in newer API versions
                        counts.update(_counts(event.usage))
                elif kind == "message_stop":
                    finished = True
        if not finished:
            raise MalformedResponse("ended its answer before the end")
        usage = _usage(counts)
        tool_calls = [parse_tool_call(b["id"], b["name"], b["json"]) for _, b in sorted(blocks.items())]
        text = "".join(texts)
        answer = next((b["json"] for _, b in sorted(blocks.items()) if b["name"] == structured), None)
        if answer is not None:  # already checked to be a JSON object by parse_tool_call
            text, tool_calls = answer, [c for c in tool_calls if c.name != structured]
        yield Completion(text, tool_calls, usage, self.price.cost(usage), _finish(stop_reason, tool_calls))

    def _plain(self, response, structured: str | None) -> Completion:
        if getattr(response, "type", None) != "message" or not isinstance(response.content, list):
            raise MalformedResponse("sent an answer that could not be read (not a message)")
        texts, tool_calls, answer = [], [], None
        for block in response.content:
            if block.type == "text":
                texts.append(block.text or "")
            elif block.type == "tool_use" and block.name == structured and answer is None:
                answer = json.dumps(parse_tool_call(block.id, block.name, block.input).arguments, ensure_ascii=False)
            elif block.type == "tool_use":
                tool_calls.append(parse_tool_call(block.id, block.name, block.input))
            # thinking, redacted_thinking and server-tool blocks are not shown
        usage = _usage(_counts(response.usage)) if response.usage else Usage()
        text = answer if answer is not None else "".join(texts)
        return Completion(text, tool_calls, usage, self.price.cost(usage), _finish(response.stop_reason, tool_calls))


def _counts(u) -> dict[str, int]:
    """The token counts an Anthropic usage object carries (a missing or null one is left out)."""
    names = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return {n: int(v) for n in names if (v := getattr(u, n, None)) is not None}


def _usage(counts: dict[str, int]) -> Usage:
    cached = counts.get("cache_read_input_tokens", 0)
    total_input = counts.get("input_tokens", 0) + cached + counts.get("cache_creation_input_tokens", 0)
    return Usage(total_input, counts.get("output_tokens", 0), cached)


def _finish(stop_reason: str | None, tool_calls: list) -> str:
    if stop_reason == "tool_use" and not tool_calls:  # the only call was the structured answer
        return "stop"
    return FINISH.get(stop_reason or "end_turn", stop_reason or "stop")


def _tool_id(call_id: str | None, name: str) -> str:
    """Anthropic accepts tool_use ids of [a-zA-Z0-9_-] only; ids from other vendors may hold more."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", call_id or f"call_{name}")


def _tool_result(m: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": _tool_id(m.tool_call_id, m.name or "tool")}
    if m.content:
        block["content"] = m.content
    if m.is_error:
        block["is_error"] = True
    return block


__all__ = ["AnthropicProvider"]
