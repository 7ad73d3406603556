"""Cost limits that hold: under concurrency, across restarts, as windows roll, against runaway loops."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from assistant import metrics
from assistant.agent import TurnFinished
from assistant.budget import BudgetExceeded
from assistant.budget.tokens import count_text
from assistant.graph.models import LlmUsage
from assistant.messages import Message
from assistant.providers.pricing import price_for
from assistant.service import build_services
from assistant.settings import Settings
from tests.fakes import Reply
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-budget-test"


def settings_for(tmp_path, database_url, fake, **limits) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, environment="test", users="",
                    providers="openai", openai_api_key=KEY, openai_base_url=f"{fake.url}/v1",
                    provider_max_retries=0, **limits)


@pytest.fixture
async def fake():
    server = await FakeOpenAI().start()
    try:
        yield server
    finally:
        await server.stop()


def install_random_model(fake: FakeOpenAI, rng: random.Random) -> None:
    """A fake model: a tool call, then an answer; usage random but physically possible (input no more
    than the text it was sent, output no more than max_completion_tokens)."""
    def next_reply(body):
        text = " ".join(m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
                        for m in body["messages"] if m["role"] != "system")
        usage = (rng.randint(1, max(1, count_text(text, body["model"]))),
                 rng.randint(1, body["max_completion_tokens"]), 0)
        seen = fake.seen(body)
        if seen.tool_results:
            return Reply(text="Here you are.", usage=usage)
        return Reply(tool_calls=[("list_vendors", {})], usage=usage)

    fake.next_reply = next_reply


async def run_turn(services, user: str, text: str = "who do I pay?", turn_id: str | None = None) -> TurnFinished:
    ctx = services.tool_context(await services.user_id(user))
    ctx.turn_id = turn_id
    events = [e async for e in services.agent.run_turn([], Message("user", text), ctx)]
    return events[-1]


async def ledger_rows(services):
    async with services.sessions() as s:
        return list((await s.scalars(select(LlmUsage))).all())


async def test_fifty_concurrent_turns_never_overspend(tmp_path, database_url, fake):
    limits = dict(cost_limit_per_request=Decimal("0.004"), cost_limit_per_hour=Decimal("0.05"),
                  cost_limit_per_day=Decimal("0.06"), user_cost_limit_per_day=Decimal("0.03"),
                  user_cost_limit_per_hour=Decimal("0.025"))
    install_random_model(fake, random.Random(7))
    # two engines (as two app processes would have) on the same database
    first = build_services(settings_for(tmp_path, database_url, fake, **limits))
    second = build_services(settings_for(tmp_path, database_url, fake, **limits))
    try:
        users = ["alice", "bob", "carol"]
        for u in users:
            await first.user_id(u)
        turns = [run_turn(first if i % 2 else second, users[i % 3]) for i in range(50)]
        results = await asyncio.gather(*turns)

        rows = await ledger_rows(first)
        assert all(r.status in ("settled", "released") for r in rows), "a reservation was left behind"
        settled = [r for r in rows if r.status == "settled"]
        total = sum((r.cost for r in settled), Decimal("0"))
        assert total <= limits["cost_limit_per_hour"] and total <= limits["cost_limit_per_day"]
        by_turn, by_user = {}, {}
        for r in settled:
            by_turn[r.turn_id] = by_turn.get(r.turn_id, Decimal("0")) + r.cost
            by_user[r.owner_id] = by_user.get(r.owner_id, Decimal("0")) + r.cost
        assert max(by_turn.values()) <= limits["cost_limit_per_request"]
        assert max(by_user.values()) <= limits["user_cost_limit_per_hour"]
        for r in settled:  # what was recorded is the vendor's usage at the model's price
            assert r.cost == (price_for("openai", r.model).cost(_usage(r))).quantize(Decimal("0.000001"))

        stopped = [t for t in results if t.stopped == "budget"]
        answered = [t for t in results if t.stopped is None]
        assert stopped and answered, (len(stopped), len(answered))
        assert all("limit of $" in t.text and "left" in t.text for t in stopped)
        # the chat's per-reply cost is the ledger's, to the cent (and to the micro-dollar)
        ledger_by_turn = {t: c for t, c in by_turn.items()}
        for t in results:
            if t.stopped is None:
                assert any(abs(c - t.cost) == 0 for c in ledger_by_turn.values())
    finally:
        await first.close()
        await second.close()


def _usage(row):
    from assistant.messages import Usage

    return Usage(row.input_tokens, row.output_tokens, row.cached_tokens)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_restart_keeps_the_days_spend_and_the_windows_roll(tmp_path, database_url, fake):
    # a day of $0.048, an hour of $0.0288, in New York; calls of $0.0096 each (large inputs, so that the
    # reservation, about $0.0035 for the prompt and 1,024 output tokens, fits in what one call leaves)
    limits = dict(cost_limit_per_request=Decimal("1"), cost_limit_per_hour=Decimal("0.0288"),
                  cost_limit_per_day=Decimal("0.048"), timezone="America/New_York")
    clock = Clock(datetime(2026, 11, 21, 22, 0, tzinfo=UTC))  # 17:00 in New York
    fake.next_reply = lambda body: Reply(text="ok", usage=(20_000, 1000, 0))  # $0.0096 at gpt-4.1-mini

    async def one_call(services):
        services.budget.clock = clock
        return await run_turn(services, "alice")

    services = build_services(settings_for(tmp_path, database_url, fake, **limits))
    try:
        refusals, calls = metrics.BUDGET_REFUSALS.values.copy(), metrics.LLM_CALLS.values.copy()
        answers = [await one_call(services) for _ in range(4)]
        assert [a.stopped for a in answers] == [None, None, None, "budget"]  # $0.0288 per hour
        key = ("per-hour",)  # /metrics counts the refusal by limit, and each settled call
        assert metrics.BUDGET_REFUSALS.values[key] == refusals.get(key, 0) + 1
        assert metrics.LLM_CALLS.values[("openai", "gpt-4.1-mini")] == calls.get(("openai", "gpt-4.1-mini"), 0) + 3
        assert "over the per-hour limit of $0.0288 ($0.0288 used, $0.0000 left)" in answers[-1].text
        assert "room frees up from 18:00 America/New_York, in 1 h." in answers[-1].text
    finally:
        await services.close()

    # a restart: a new process (new engine, new budget) still sees the spend
    clock.now += timedelta(minutes=61)  # the hour has rolled: room again, but the day has $0.0192 left
    services = build_services(settings_for(tmp_path, database_url, fake, **limits))
    services.budget.clock = clock  # the report reads the same injected clock as the calls
    try:
        report = await services.budget.report(None)
        assert report["windows"]["today"]["cost"] == "0.028800" and report["windows"]["last hour"]["cost"] == "0.000000"
        answers = [await one_call(services) for _ in range(3)]
        assert [a.stopped for a in answers] == [None, None, "budget"]
        assert "over the per-day limit of $0.048 ($0.0480 used, $0.0000 left)" in answers[-1].text
        assert "resets at midnight (2026-11-22 00:00 America/New_York), in 5 h 59 min" in answers[-1].text

        clock.now = datetime(2026, 11, 22, 4, 59, tzinfo=UTC)  # 23:59 in New York: still the same day
        assert (await one_call(services)).stopped == "budget"
        clock.now = datetime(2026, 11, 22, 5, 1, tzinfo=UTC)  # 00:01 in New York: a new day
        assert (await one_call(services)).stopped is None
    finally:
        await services.close()


async def test_a_runaway_tool_loop_is_stopped_by_the_request_limit(tmp_path, database_url, fake):
    fake.next_reply = lambda body: Reply(tool_calls=[("list_vendors", {})], usage=(2000, 300, 0))
    services = build_services(settings_for(tmp_path, database_url, fake, cost_limit_per_request=Decimal("0.01"),
                                           agent_max_steps=50))
    try:
        finished = await run_turn(services, "alice")
        assert finished.stopped == "budget"
        assert "per-request limit of $0.01" in finished.text and "next question as a new message" in finished.text
        assert 1 < len(finished.tool_calls) < 50
        rows = await ledger_rows(services)
        assert sum(r.cost for r in rows if r.status == "settled") <= Decimal("0.01")
        assert finished.cost == sum(r.cost for r in rows if r.status == "settled")
    finally:
        await services.close()


async def test_a_failed_call_releases_and_an_overrun_is_still_recorded(tmp_path, database_url, fake):
    services = build_services(settings_for(tmp_path, database_url, fake, cost_limit_per_hour=Decimal("1.00")))
    try:
        fake.script(Reply(status=500))
        failed = await run_turn(services, "alice")
        assert failed.stopped == "provider_error"
        rows = await ledger_rows(services)
        assert [(r.status, r.cost) for r in rows] == [("released", Decimal("0"))]
        assert rows[0].reserved_cost > 0

        fake.script(Reply(text="big", usage=(3_000_000, 50_000, 0)))  # far more than the estimate
        big = await run_turn(services, "alice")
        row = (await ledger_rows(services))[-1]
        assert row.status == "settled" and row.cost > row.reserved_cost
        assert row.cost == Decimal("1.280000") == big.cost  # 3M x $0.40 + 50k x $1.60 per million
        # the hour's limit is now used up: the next call is refused (the overrun is not hidden)
        fake.script(Reply(text="again"))
        refused = await run_turn(services, "alice")
        assert refused.stopped == "budget" and len(fake.requests) == 2
    finally:
        await services.close()


async def test_a_crashed_processs_reservation_expires(tmp_path, database_url, fake):
    clock = Clock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    services = build_services(settings_for(tmp_path, database_url, fake, cost_limit_per_day=Decimal("0.005")))
    services.budget.clock = clock
    try:
        price = price_for("openai", "gpt-4.1-mini")
        # a process reserves and dies before settling
        held = await services.budget.reserve(price=price, provider="openai", model="gpt-4.1-mini",
                                             input_tokens=1000, max_output_tokens=2000, user_id=None,
                                             thread_id=None, turn_id="crashed")
        assert held.reserved == Decimal("0.003600")
        # the held $0.0036 still counts: $0.0014 left, room for a capped call of 624 output tokens
        capped = await services.budget.reserve(price=price, provider="openai", model="gpt-4.1-mini",
                                               input_tokens=1000, max_output_tokens=2000, user_id=None,
                                               thread_id=None, turn_id="t2")
        assert capped.capped and capped.max_output_tokens == 624 and capped.reserved <= Decimal("0.0014")
        with pytest.raises(BudgetExceeded, match="per-day limit of \\$0.005"):
            await services.budget.reserve(price=price, provider="openai", model="gpt-4.1-mini", input_tokens=1000,
                                          max_output_tokens=2000, user_id=None, thread_id=None, turn_id="t3")
        await services.budget.release(capped)
        clock.now += timedelta(seconds=services.settings.budget_reservation_ttl_s + 1)
        again = await services.budget.reserve(price=price, provider="openai", model="gpt-4.1-mini",
                                              input_tokens=1000, max_output_tokens=2000, user_id=None,
                                              thread_id=None, turn_id="t3")
        assert again.id is not None and not again.capped
    finally:
        await services.close()


async def test_offline_is_free_never_refused_and_recorded(tmp_path, database_url):
    services = build_services(Settings(data_dir=tmp_path / "data", database_url=database_url, environment="test",
                                       users="", cost_limit_per_day=Decimal("0"), cost_limit_per_hour=Decimal("0"),
                                       cost_limit_per_request=Decimal("0")))
    try:
        finished = await run_turn(services, "alice", "how much have I spent on AI today?")
        assert finished.stopped is None and finished.provider == "offline" and finished.cost == 0
        assert "Today you have spent **$0.000000**" in finished.text
        async with services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(LlmUsage)) == 2
    finally:
        await services.close()


async def test_only_a_priced_call_counts_its_tokens_first(tmp_path, database_url, fake, monkeypatch):
    # A free model's reservation is zero whatever the count, so the count (tiktoken, CPU on every
    # call) is skipped there, and made for a priced model's reservation.
    import assistant.budget.guard as guard

    counted = []
    real = guard.estimate_input_tokens
    monkeypatch.setattr(guard, "estimate_input_tokens", lambda *a: counted.append(a[1]) or real(*a))
    free = build_services(Settings(data_dir=tmp_path / "free", database_url=database_url, environment="test",
                                   users=""))
    try:
        assert (await run_turn(free, "alice")).provider == "offline"
        assert counted == [] and len(await ledger_rows(free)) == 2  # still recorded, call by call
    finally:
        await free.close()
    priced = build_services(settings_for(tmp_path, database_url, fake))
    try:
        fake.script(Reply(text="You pay nobody yet."))
        finished = await run_turn(priced, "alice")
        assert finished.provider == "openai" and counted == ["openai"]
    finally:
        await priced.close()


async def test_a_call_that_would_overspend_gets_a_smaller_max_output(tmp_path, database_url, fake):
    # The second call's reservation depends on the prompt (system prompt and every tool's schema), so a
    # first turn measures it; the limit is then set to leave that call room for ~500 output tokens only.
    steps = (Reply(tool_calls=[("list_vendors", {})], usage=(1500, 1250, 0)), Reply(text="done", usage=(1600, 100, 0)))
    fake.script(*steps, *steps)
    out_price = Decimal("1.60") / 1_000_000  # gpt-4.1-mini output, per token
    probe = build_services(settings_for(tmp_path, database_url, fake, cost_limit_per_request=Decimal("1")))
    try:
        await run_turn(probe, "alice", turn_id="probe")
        first, second = await ledger_rows(probe)
        assert first.cost == Decimal("0.002600")  # 1500 in, 1250 out
        limit = first.cost + second.reserved_cost - 524 * out_price  # the second call: input + 500 out fit
    finally:
        await probe.close()
    services = build_services(settings_for(tmp_path, database_url, fake, cost_limit_per_request=limit))
    try:
        finished = await run_turn(services, "alice", turn_id="capped")
        assert finished.stopped is None and finished.text == "done"
        sent = [r.body["max_completion_tokens"] for r in fake.requests[2:]]
        assert sent[0] == 1024 and 256 <= sent[1] < 1024, sent
        rows = [r for r in await ledger_rows(services) if r.turn_id == "capped"]
        assert [r.output_tokens for r in rows] == [1250, 100]  # settled with the vendor's figures
        assert sum(r.cost for r in rows) == finished.cost <= limit
    finally:
        await services.close()


async def test_two_app_processes_never_overspend(tmp_path, database_url, fake):
    import os
    import sys

    limits = {"COST_LIMIT_PER_REQUEST": "0.004", "COST_LIMIT_PER_HOUR": "0.03", "COST_LIMIT_PER_DAY": "0.04",
              "USER_COST_LIMIT_PER_DAY": "0.02"}
    install_random_model(fake, random.Random(11))
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
           "ASSISTANT_PROVIDERS": "openai", "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake.url}/v1",
           "PROVIDER_MAX_RETRIES": "0", "ENVIRONMENT": "test", "ASSISTANT_USERS": "", **limits}
    services = build_services(settings_for(tmp_path, database_url, fake))
    try:
        for u in ("alice", "bob"):
            await services.user_id(u)  # created once, before the processes race
        procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.budget_worker", "15", "alice", "bob",
                                                      env=env, stdout=asyncio.subprocess.PIPE,
                                                      stderr=asyncio.subprocess.PIPE) for _ in range(2)]
        outputs = [await p.communicate() for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1].decode()[-2000:] for o in outputs]
        turns = [json.loads(line) for out, _ in outputs for line in out.decode().splitlines()]
        assert len(turns) == 30 and {t["stopped"] for t in turns} == {None, "budget"}, [t for t in turns if t["stopped"] not in (None, "budget")]
        rows = await ledger_rows(services)
        settled = [r for r in rows if r.status == "settled"]
        total = sum((r.cost for r in settled), Decimal("0"))
        assert total <= Decimal("0.03")
        for owner in {r.owner_id for r in settled}:
            assert sum(r.cost for r in settled if r.owner_id == owner) <= Decimal("0.02")
        per_turn = {}
        for r in settled:
            per_turn[r.turn_id] = per_turn.get(r.turn_id, Decimal("0")) + r.cost
        assert max(per_turn.values()) <= Decimal("0.004")
        assert total == sum(Decimal(t["cost"]) for t in turns)  # what the turns reported = the ledger
    finally:
        await services.close()


async def test_the_reply_the_cli_and_the_ledger_agree(tmp_path, database_url, fake):
    import os
    import sys

    fake.script(Reply(tool_calls=[("list_vendors", {})], usage=(1234, 56, 200)), Reply(text="none", usage=(1300, 20, 0)))
    services = build_services(settings_for(tmp_path, database_url, fake))
    try:
        finished = await run_turn(services, "alice")
        rows = await ledger_rows(services)
        assert finished.cost == sum(r.cost for r in rows) > 0
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant.cli", "usage", "--user", "alice",
                                                    "--json", env=env, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        report = json.loads(out)
        today = report["windows"]["today"]
        assert Decimal(today["cost"]) == finished.cost and today["calls"] == 2
        [model] = today["by_model"]
        assert (model["provider"], model["model"], model["input_tokens"], model["output_tokens"],
                model["cached_tokens"]) == ("openai", "gpt-4.1-mini", 2534, 76, 200)
        assert f"${finished.cost:.4f}" in f"${Decimal(today['cost']):.4f}"  # what the chat shows under the reply
    finally:
        await services.close()


async def test_a_stopped_call_is_charged_its_reservation_and_missing_usage_too(tmp_path, database_url, fake):
    services = build_services(settings_for(tmp_path, database_url, fake))
    try:
        fake.script(Reply(text="slow answer", delay=3))
        task = asyncio.create_task(run_turn(services, "alice"))
        while not fake.requests:
            await asyncio.sleep(0.05)
        task.cancel()  # the user pressed Stop while the vendor was working on it
        with pytest.raises(asyncio.CancelledError):
            await task
        [row] = await ledger_rows(services)
        assert row.status == "settled" and row.cost == row.reserved_cost > 0

        fake.script(Reply(text="no usage reported", usage=(0, 0, 0)))  # a gateway that drops usage
        finished = await run_turn(services, "alice")
        row = (await ledger_rows(services))[-1]
        assert row.status == "settled" and row.cost == row.reserved_cost == finished.cost > 0
    finally:
        await services.close()
