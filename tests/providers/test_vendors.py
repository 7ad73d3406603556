"""Each vendor's real SDK against a local fake server speaking its wire format, plain and streamed."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from assistant.agent import TurnFinished
from assistant.messages import Attachment, CompletionRequest, Message, TextDelta, with_attachment_note
from assistant.providers.base import FatalError, MalformedResponse, RetryableError
from assistant.providers.chain import FallbackChain
from tests.fakes import Reply
from tests.providers.conftest import KEY

TODAY = date(2026, 11, 21)
streaming = pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])


async def turn(services, text, stream=True):
    services.agent.stream = stream
    ctx = services.tool_context(await services.user_id("alice"), today=TODAY)
    events = [e async for e in services.agent.run_turn([], Message("user", text), ctx)]
    return events


def request(stream=True, text="hello"):
    return CompletionRequest(system="be brief", messages=[Message("user", text)], tools=[], today=TODAY,
                             stream=stream)


async def collect(provider, req):
    items = [i async for i in provider.stream(req)]
    return [i for i in items if isinstance(i, TextDelta)], items[-1]


@streaming
async def test_tool_call_round_trip(vendor_services, fake, stream):
    fake.script(Reply(tool_calls=[("list_vendors", {})]), Reply(text="You have no vendors yet."))
    events = await turn(vendor_services, "who do I pay?", stream)
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.stopped is None, finished.text
    assert finished.text == "You have no vendors yet." and finished.provider == fake_vendor_name(vendor_services)
    assert [c["name"] for c in finished.tool_calls] == ["list_vendors"]
    assert finished.tool_calls[0]["result"] == {"vendors": []}
    first, second = (fake.seen(r.body) for r in fake.requests)
    assert "list_vendors" in first.tools and "add_bill" in first.tools
    assert first.last_user == "who do I pay?" and first.tool_results == []
    assert json.loads(second.tool_results[0]) == {"vendors": []}  # the result went back in the vendor's format


def fake_vendor_name(services) -> str:
    return services.providers.chain(services.settings).providers[0].name


@streaming
async def test_two_tool_calls_in_one_answer(vendor_services, fake, stream):
    fake.script(Reply(tool_calls=[("list_vendors", {}), ("find_bills", {"status": "overdue"})]),
                Reply(text="Nothing is overdue and you have no vendors."))
    finished = (await turn(vendor_services, "vendors and overdue?", stream))[-1]
    assert [c["name"] for c in finished.tool_calls] == ["list_vendors", "find_bills"]
    assert finished.tool_calls[1]["arguments"] == {"status": "overdue"}
    results = fake.seen(fake.requests[1].body).tool_results
    assert [json.loads(r) for r in results] == [{"vendors": []}, finished.tool_calls[1]["result"]]


async def test_streaming_text_arrives_in_pieces(vendor_services, fake):
    fake.script(Reply(text="Your electricity bill is due on Friday."))
    deltas, done = await collect(vendor_services.provider.providers[0], request(True))
    assert len(deltas) >= 2
    assert "".join(d.text for d in deltas) == done.text == "Your electricity bill is due on Friday."


@streaming
async def test_tool_arguments_are_parsed_whole(vendor_services, fake, stream):
    args = {"vendor": "Pacific Power", "status": "paid", "date_field": "paid", "date_from": "2026-01-01"}
    fake.script(Reply(tool_calls=[("find_bills", args)]))
    _, done = await collect(vendor_services.provider.providers[0], request(stream))
    assert [(c.name, c.arguments) for c in done.tool_calls] == [("find_bills", args)]
    assert all(c.id for c in done.tool_calls)


@streaming
async def test_usage_and_cost_are_captured(vendor_services, fake, stream):
    fake.script(Reply(text="ok", usage=(1000, 200, 400)))
    provider = vendor_services.provider.providers[0]
    _, done = await collect(provider, request(stream))
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.cached_tokens) == (1000, 200, 400)
    p = provider.price
    assert done.cost == (600 * p.input + 400 * p.cached + 200 * p.output) / Decimal(1_000_000)


@streaming
async def test_rate_limited_then_success(vendor_services, fake, stream):
    fake.script(Reply(status=429), Reply(text="fine now"))
    finished = (await turn(vendor_services, "hi", stream))[-1]
    assert finished.text == "fine now" and finished.notices == []
    assert len(fake.requests) == 2


async def test_server_errors_then_fallback_to_the_next_provider(vendor_services, fake):
    fake.script(*[Reply(status=500)] * 3)  # max_retries=2: three tries, then the offline provider
    finished = (await turn(vendor_services, "who do I pay?"))[-1]
    assert len(fake.requests) == 3
    assert finished.provider == "offline" and "no vendors yet" in finished.text
    assert finished.notices and "HTTP 500" in finished.notices[0] and "answered by the offline assistant" in finished.notices[0]


@streaming
async def test_malformed_body(vendor_services, fake, stream):
    fake.script(Reply(text="x", malformed=True))
    with pytest.raises(MalformedResponse, match="could not be read|not JSON"):
        await collect(vendor_services.provider.providers[0], request(stream))


async def test_timeout(vendor_services, fake):
    fake.script(Reply(text="late", delay=3))  # the provider's timeout is 2 s
    with pytest.raises(RetryableError, match="timed out"):
        await collect(vendor_services.provider.providers[0], request(False))


@streaming
async def test_bad_key_is_reported_without_retry_and_without_the_key(vendor_services, fake, stream, caplog):
    fake.script(Reply(status=401))
    provider = vendor_services.provider.providers[0]
    with pytest.raises(FatalError, match="rejected the API key") as err:
        await collect(provider, request(stream))
    assert KEY not in str(err.value)
    # through the chain: no retry of the same provider, the next one answers, the user is told why
    fake.script(Reply(status=401))
    chain = FallbackChain(vendor_services.provider.providers, max_retries=3, backoff_s=0)
    _, done = await collect(chain, request(stream, "who do I pay?"))
    assert len(fake.requests) == 2 and done.provider == "offline"
    assert "rejected the API key (HTTP 401)" in done.notice
    assert KEY not in caplog.text and KEY not in done.notice


async def test_sdk_sends_the_key_and_model_it_was_given(vendor_services, fake):
    fake.script(Reply(text="ok"))
    await collect(vendor_services.provider.providers[0], request(True))
    sent = fake.requests[0]
    assert vendor_services.provider.providers[0].model in json.dumps(sent.body) + sent.path


@streaming
async def test_each_call_carries_the_turns_request_id(vendor_services, fake, stream):
    fake.script(Reply(tool_calls=[("list_vendors", {})]), Reply(text="None yet."))
    ctx = vendor_services.tool_context(await vendor_services.user_id("alice"), today=TODAY)
    ctx.turn_id = "turn-7f3a"
    vendor_services.agent.stream = stream
    [e async for e in vendor_services.agent.run_turn([], Message("user", "who do I pay?"), ctx)]
    sent = [{k.lower(): v for k, v in r.headers.items()}.get("x-client-request-id") for r in fake.requests]
    assert sent == ["turn-7f3a", "turn-7f3a"]


async def test_a_photo_goes_to_the_model_as_an_image_and_is_filed(vendor_services, fake, tmp_path):
    from tests.factories import tiny_png

    photo = tmp_path / "bill.jpg"  # the name lies: the content is a PNG, and that is what is sent
    photo.write_bytes(tiny_png())
    attachment = Attachment("file-1", "bill.jpg", "upload", "image/png", photo)
    sees_images = fake_vendor_name(vendor_services) != "openai-compatible"  # a local model may not
    fake.script(Reply(tool_calls=[("add_bill", {"attachment_id": "file-1", "vendor": "Metro Water",
                                                "amount": "41.20", "currency": "USD", "due_date": "2026-12-02"})]))
    if sees_images:  # the model extractor reads the photo too (its invoice number, issue date, ...)
        fake.script(Reply(structured={"vendor": "Metro Water", "amount_due": "41.20", "currency": "USD",
                                      "issue_date": "2026-11-18", "due_date": "2026-12-02", "invoice_number": "MW-77",
                                      "account_number": None, "service_period_start": None,
                                      "service_period_end": None, "minimum_due": None}))
    fake.script(Reply(text="Filed Metro Water."))
    services = vendor_services
    ctx = services.tool_context(await services.user_id("alice"), today=TODAY)
    message = Message("user", with_attachment_note("here's a photo", [attachment]), attachments=[attachment])
    events = [e async for e in services.agent.run_turn([], message, ctx)]
    finished = events[-1]
    assert finished.text == "Filed Metro Water." and finished.notices == []
    first = fake.seen(fake.requests[0].body)
    assert first.images == 1  # (OpenAI-compatible servers get it too; whether a local model sees images is its business)
    assert "[attachment file-1: bill.jpg]" in first.last_user
    result = finished.tool_calls[0]["result"]
    assert not finished.tool_calls[0]["is_error"], result
    bill = result["bill"]
    assert (bill["vendor"], bill["amount"], bill["due_date"]) == ("Metro Water", "41.20", "2026-12-02")
    if sees_images:
        extraction = fake.seen(fake.requests[1].body)
        assert extraction.schema is not None and extraction.images == 1 and extraction.tools in ([], ["bill_fields"])
        assert result["extractor"].startswith("model (")
        # the photo has no text to check the model's reading against: kept, below the review threshold
        assert result["fields"]["invoice_number"] == "MW-77"
        assert result["confidence"]["invoice_number"] < services.settings.review_below
    else:
        assert result["extractor"].startswith("offline (nothing the model could read")
    second = fake.seen(fake.requests[-1].body)
    assert len(fake.requests) == (3 if sees_images else 2) and second.schema is None
    assert second.images == 1  # the photo stays part of the conversation's newest user message
