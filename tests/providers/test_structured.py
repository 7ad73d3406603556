"""Structured output (one JSON object of a schema) through each vendor's real SDK and its native
mechanism, plain and streamed, against fakes that check the request the way the real APIs do."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from assistant.budget.tokens import estimate_input_tokens
from assistant.documents.model_extract import RESPONSE_NAME, response_schema
from assistant.graph.models import LlmUsage
from assistant.messages import CompletionRequest, Message, TextDelta
from assistant.providers.base import FatalError, RetryableError
from tests.fakes import Reply
from tests.fakes.openai_server import response_format_problem
from tests.providers.conftest import KEY

TODAY = date(2026, 11, 21)
streaming = pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["vendor", "amount", "lines"],
          "properties": {"vendor": {"type": ["string", "null"]}, "amount": {"type": ["string", "null"]},
                         "lines": {"type": "array", "items": {
                             "type": "object", "additionalProperties": False, "required": ["text"],
                             "properties": {"text": {"type": "string"}}}}}}
ANSWER = {"vendor": "Pacific Power", "amount": None, "lines": [{"text": "Amount due: $120.50"}]}


def request(stream: bool, schema: dict | None = SCHEMA, name: str = "bill_fields", tools: list | None = None,
            **extra) -> CompletionRequest:
    return CompletionRequest(system="read the bill", messages=[Message("user", "Pacific Power ... $120.50")],
                             tools=tools or [], today=TODAY, stream=stream, response_schema=schema,
                             response_name=name, **extra)


async def collect(provider, req):
    items = [i async for i in provider.stream(req)]
    return [i for i in items if isinstance(i, TextDelta)], items[-1]


def native(vendor: str, body: dict) -> dict:
    """The schema where each vendor's API takes it, checked to be asked for the vendor's native way."""
    if vendor in ("openai", "openai-compatible"):
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "bill_fields"
        assert fmt["json_schema"]["strict"] is True and "tools" not in body
        return fmt["json_schema"]["schema"]
    if vendor == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "bill_fields"}
        [tool] = body["tools"]
        assert tool["name"] == "bill_fields"
        return tool["input_schema"]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "responseSchema" not in config
    assert "tools" not in body
    return config["responseJsonSchema"]


@streaming
async def test_structured_output_comes_back_as_json_text(vendor_services, fake, vendor, stream):
    fake.script(Reply(structured=ANSWER, usage=(1000, 200, 0)))
    provider = vendor_services.provider.providers[0]
    deltas, done = await collect(provider, request(stream))
    assert json.loads(done.text) == ANSWER
    assert done.tool_calls == [] and done.finish_reason == "stop"  # Anthropic's forced tool call is not a call
    assert (done.usage.input_tokens, done.usage.output_tokens) == (1000, 200)
    assert done.cost == provider.price.cost(done.usage)
    if stream:
        assert len(deltas) >= 2 and json.loads("".join(d.text for d in deltas)) == ANSWER
    sent = fake.requests[-1].body
    assert native(vendor.name, sent) == SCHEMA
    assert fake.seen(sent).schema == SCHEMA


@streaming
async def test_the_model_extractors_schema_is_accepted_by_every_vendor(vendor_services, fake, stream):
    fields = {name: None for name in response_schema()["properties"]} | {"vendor": "Pacific Power"}
    fake.script(Reply(structured=fields))
    _, done = await collect(vendor_services.provider.providers[0],
                            request(stream, response_schema(), RESPONSE_NAME))
    assert json.loads(done.text) == fields


@streaming
async def test_structured_output_next_to_tools(vendor_services, fake, vendor, stream):
    """Tools may be sent along; the answer is still the structured object."""
    fake.script(Reply(structured=ANSWER))
    tools = [{"name": "list_vendors", "description": "who the user pays", "parameters": {"type": "object",
                                                                                        "properties": {}}}]
    _, done = await collect(vendor_services.provider.providers[0], request(stream, tools=tools))
    assert json.loads(done.text) == ANSWER and done.tool_calls == []
    seen = fake.seen(fake.requests[-1].body)
    assert "list_vendors" in seen.tools and seen.schema == SCHEMA


async def test_plain_requests_carry_no_structured_output(vendor_services, fake, vendor):
    fake.script(Reply(text="hello"))
    plain = CompletionRequest(system="s", messages=[Message("user", "hi")], tools=[], today=TODAY, stream=False)
    _, done = await collect(vendor_services.provider.providers[0], plain)
    body = fake.requests[-1].body
    assert done.text == "hello" and fake.seen(body).schema is None
    assert "response_format" not in body and "tool_choice" not in body
    assert "responseMimeType" not in (body.get("generationConfig") or {})


async def test_a_structured_reply_the_request_did_not_ask_for_fails(vendor_services, fake):
    """The fakes guard the tests themselves: the real APIs never answer this way."""
    fake.script(Reply(structured=ANSWER))
    plain = CompletionRequest(system="s", messages=[Message("user", "hi")], tools=[], today=TODAY, stream=False)
    with pytest.raises(RetryableError, match="HTTP 500"):
        await collect(vendor_services.provider.providers[0], plain)
    fake.script(Reply(structured={"vendor": 12}))  # breaks the schema, which the real APIs guarantee
    with pytest.raises(RetryableError, match="HTTP 500"):
        await collect(vendor_services.provider.providers[0], request(False))


@pytest.mark.parametrize("vendor", ["openai", "openai-compatible"], indirect=True)
async def test_a_schema_strict_mode_refuses_is_refused(vendor_services, fake, vendor):
    """OpenAI's strict mode wants every object closed and every property required."""
    provider = vendor_services.provider.providers[0]
    loose = {"type": "object", "properties": {"vendor": {"type": "string"}}, "required": ["vendor"]}
    with pytest.raises(FatalError, match="HTTP 400"):
        await collect(provider, request(False, loose))
    assert "'additionalProperties' is required" in response_format_problem(fake.requests[-1].body)
    optional = {**loose, "additionalProperties": False, "properties": {"vendor": {"type": "string"},
                                                                         "due": {"type": "string"}}}
    with pytest.raises(FatalError, match="HTTP 400"):
        await collect(provider, request(False, optional))
    assert "Missing 'due'" in response_format_problem(fake.requests[-1].body)
    with pytest.raises(FatalError, match="HTTP 400"):
        await collect(provider, request(False, name="bill fields!"))
    assert fake.replies == type(fake.replies)()  # nothing scripted was used up


async def test_the_anthropic_fake_refuses_a_tool_choice_it_cannot_honour():
    """What the real Messages API answers 400 to: a tool_choice naming no tool sent, or with no tools."""
    import anthropic

    from tests.fakes.anthropic_server import FakeAnthropic

    fake = await FakeAnthropic().start()
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=fake.url, max_retries=0)
    base = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    tool = {"name": "bill_fields", "input_schema": {"type": "object", "properties": {}}}
    try:
        with pytest.raises(anthropic.BadRequestError, match="not found in provided tools"):
            await client.messages.create(**base, tools=[tool], tool_choice={"type": "tool", "name": "other"})
        with pytest.raises(anthropic.BadRequestError, match="only be specified while providing tools"):
            await client.messages.create(**base, tool_choice={"type": "tool", "name": "bill_fields"})
        with pytest.raises(anthropic.BadRequestError, match="unique"):
            await client.messages.create(**base, tools=[tool, tool])
        with pytest.raises(anthropic.BadRequestError, match="input_schema"):
            await client.messages.create(**base, tools=[{"name": "x", "input_schema": {"type": "string"}}])
        fake.script(Reply(structured={}))
        answer = await client.messages.create(**base, tools=[tool], tool_choice={"type": "tool", "name": "bill_fields"})
        assert answer.stop_reason == "tool_use" and answer.content[0].name == "bill_fields"
    finally:
        await client.close()
        await fake.stop()


async def test_the_gemini_fake_refuses_a_schema_without_json():
    from google import genai
    from google.genai import errors, types

    from tests.fakes.gemini_server import FakeGemini

    fake = await FakeGemini().start()
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(
        base_url=fake.url, retry_options=types.HttpRetryOptions(attempts=1)))
    try:
        with pytest.raises(errors.ClientError, match="response_mime_type"):
            await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="hi",
                config=types.GenerateContentConfig(response_json_schema=SCHEMA))
        with pytest.raises(errors.ClientError, match="allowed mimetypes"):
            await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="hi",
                config=types.GenerateContentConfig(response_mime_type="application/pdf"))
    finally:
        await fake.stop()


def test_the_estimate_counts_the_schema():
    plain = request(False, schema=None)
    for provider, model in (("openai", "gpt-4.1-mini"), ("anthropic", "claude-haiku-4-5"),
                            ("gemini", "gemini-2.5-flash")):
        without = estimate_input_tokens(plain, provider, model)
        with_schema = estimate_input_tokens(request(False, response_schema(), RESPONSE_NAME), provider, model)
        assert with_schema - without >= len(json.dumps(response_schema())) // 8, provider
    # Anthropic sends the schema as a tool, and adds its tool-use system prompt
    assert (estimate_input_tokens(request(False, SCHEMA), "anthropic", "claude-haiku-4-5")
            - estimate_input_tokens(request(False, SCHEMA), "gemini", "gemini-2.5-flash")) >= 500


async def test_a_structured_call_is_reserved_settled_and_recorded(vendor_services, fake, vendor):
    fake.script(Reply(structured=ANSWER, usage=(3000, 150, 0)))
    services = vendor_services
    alice = await services.user_id("alice")
    req = request(False, user_id=alice, thread_id="thread-1", turn_id="turn-1")
    _, done = await collect(services.provider, req)  # the chain of budgeted providers
    assert json.loads(done.text) == ANSWER
    async with services.sessions() as s:
        rows = (await s.scalars(select(LlmUsage).where(LlmUsage.turn_id == "turn-1"))).all()
    assert [(r.owner_id, r.thread_id, r.provider, r.status, r.input_tokens, r.output_tokens) for r in rows] == [
        (alice, "thread-1", vendor.name, "settled", 3000, 150)]
    assert rows[0].cost == done.cost == services.provider.providers[0].price.cost(done.usage).quantize(
        Decimal("0.000001"))
