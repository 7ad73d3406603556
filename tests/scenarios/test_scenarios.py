"""The question scenarios (tests/scenarios/questions/*.yaml) over the fixture graph (graph.yaml):

- offline, on SQLite and PostgreSQL: the offline provider must make the expected tool calls (only the
  listed arguments are compared), the tool results must pass the result checks, and the answer must
  contain the expected facts (and never a word of bob's bills);
- through each fake vendor (OpenAI, Anthropic, Gemini): the fake model is scripted to make the
  scenario's tool calls and then answer with a short text; the calls must go through the real SDK and
  back in the vendor's wire format, the tool results must pass the same checks, and the text must
  reach the user.

Scenarios that change data (`changes: true`) run on a graph rebuilt before each (in a database of
their own); the others share one graph per database (or per vendor), built once for the module.

A scenario:
    id: a short name
    who: terse | chatty | typo | non-native | formal   (how the person writes; for reading only)
    say: the message        (or `turns:`, a list of {say, calls, result, answer, absent} for follow-ups)
    calls: [{name: tool, args: {...}}]   the expected tool calls, in order; "@<invoice>" in an argument
                                         is that bill's id (graph.yaml: the invoice, else "vendor amount due")
    result: {path: value}   checks on the first call's result: "totals[0].amount", "bills[*].vendor",
                            "len(bills)"; values compared as text (numbers as Decimals)
    answer: [strings]       must appear in the offline answer
    absent: [strings]       must not appear in the offline answer
    error: true             the (first) tool call is expected to fail
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import delete

from assistant.agent import TurnFinished
from assistant.graph.migrate import upgrade
from assistant.graph.models import Commitment, Document, Vendor, VendorAlias
from assistant.messages import Message
from assistant.service import build_services
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.fakes import Reply
from tests.providers.conftest import VENDORS, vendor_settings
from tests.scenarios.graph import build_graph

HERE = Path(__file__).parent
# Bob's bills (graph.yaml other_bills): none of their words may appear in alice's answers.
BOBS = ["999.99", "Voltaic", "131.20", "BOB-1"]
MODEL_VENDORS = ["anthropic", "gemini", "openai"]


def load_scenarios() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((HERE / "questions").glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            scenario = dict(raw)
            scenario["file"] = path.stem
            if "turns" not in scenario:
                scenario["turns"] = [{k: scenario[k] for k in ("say", "calls", "result", "answer", "absent", "error")
                                      if k in scenario}]
            found.append(scenario)
    ids = [s["id"] for s in found]
    assert len(ids) == len(set(ids)), "scenario ids must be unique"
    return found


SCENARIOS = load_scenarios()
READING = [s for s in SCENARIOS if not s.get("changes")]
CHANGING = [s for s in SCENARIOS if s.get("changes")]


def _ids(scenarios: list[dict[str, Any]]) -> list[str]:
    return [s["id"] for s in scenarios]


def test_there_are_enough_scenarios():
    assert len(SCENARIOS) >= 80
    assert {s["who"] for s in SCENARIOS} >= {"terse", "chatty", "typo", "non-native"}
    assert sum(len(s["turns"]) > 1 for s in SCENARIOS) >= 8  # follow-ups


# ----------------------------------------------------------------------------------------------
# comparing


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and re.fullmatch(r"-?\d+(?:\.\d+)?", value)):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return None


def same(actual: Any, expected: Any) -> bool:
    expected, actual = _plain(expected), _plain(actual)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and same(actual[k], v) for k, v in expected.items())
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        return a == e
    return actual == expected


def resolve(value: Any, bills: dict[str, int]) -> Any:
    """"@SM-2" -> the id of bill SM-2 in the built graph; dates as ISO text."""
    value = _plain(value)
    if isinstance(value, str) and value.startswith("@"):
        return bills[value[1:]]
    if isinstance(value, dict):
        return {k: resolve(v, bills) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bills) for v in value]
    return value


def get_path(obj: Any, path: str) -> Any:
    """`path` in a result: "totals[0].amount", "bills[*].vendor" (a list), "len(bills)"."""
    m = re.fullmatch(r"len\((.+)\)", path)
    if m:
        return len(get_path(obj, m.group(1)))

    def walk(value: Any, tokens: list[str]) -> Any:
        if not tokens:
            return value
        token, rest = tokens[0], tokens[1:]
        if token == "[*]":
            return [walk(v, rest) for v in value]
        if token.startswith("["):
            return walk(value[int(token[1:-1])], rest)
        return walk(value[token], rest)

    return walk(obj, re.findall(r"\[\*\]|\[\d+\]|[^.\[\]]+", path))


def message_text(turn: dict[str, Any], bills: dict[str, int]) -> str:
    """The turn's message, "{G-301}" replaced by that bill's id."""
    return re.sub(r"\{([^}]+)\}", lambda m: str(bills[m.group(1)]), turn["say"])


def check_results(turn: dict[str, Any], finished: TurnFinished, bills: dict[str, int], where: str) -> None:
    expected = [resolve(c, bills) for c in turn.get("calls") or []]
    got = finished.tool_calls
    assert [c["name"] for c in got] == [c["name"] for c in expected], f"{where}: tool calls {got}"
    for call, exp in zip(got, expected):
        for key, value in (exp.get("args") or {}).items():
            assert key in call["arguments"] and same(call["arguments"][key], value), \
                f"{where}: {call['name']} argument {key}: {call['arguments'].get(key)!r}, expected {value!r} " \
                f"(all: {call['arguments']})"
    if got:
        first = got[0]
        assert first["is_error"] == bool(turn.get("error")), f"{where}: {first['result']}"
        for path, value in (turn.get("result") or {}).items():
            actual = get_path(first["result"], path)
            assert same(actual, resolve(value, bills)), f"{where}: result {path} = {actual!r}, expected {value!r}"
    for call in got:
        text = json.dumps(call["result"])
        assert not any(word in text for word in BOBS), f"{where}: bob's bill in a result: {text}"


async def say(services, user_id: str, today: date, history: list[Message], text: str) -> TurnFinished:
    ctx = services.tool_context(user_id, today=today)
    events = [e async for e in services.agent.run_turn(history, Message("user", text), ctx)]
    finished = events[-1]
    assert isinstance(finished, TurnFinished)
    return finished


# ----------------------------------------------------------------------------------------------
# offline


async def run_offline(services, built: dict[str, Any], scenario: dict[str, Any]) -> None:
    alice, today, bills = built["users"]["alice"], built["today"], built["bills"]
    history: list[Message] = []
    for n, turn in enumerate(scenario["turns"], 1):
        where = f"{scenario['id']} turn {n} ({turn['say']!r})"
        finished = await say(services, alice, today, history, message_text(turn, bills))
        assert finished.stopped is None and finished.provider == "offline", f"{where}: {finished.text}"
        check_results(turn, finished, bills, where)
        for fact in turn.get("answer") or []:
            assert str(fact) in finished.text, f"{where}: {fact!r} not in the answer:\n{finished.text}"
        for word in [*(turn.get("absent") or []), *BOBS]:
            assert str(word) not in finished.text, f"{where}: {word!r} in the answer:\n{finished.text}"


async def rebuild_graph(services) -> dict[str, Any]:
    """The fixture graph again, after a scenario that changed it: every vendor, alias, document and
    bill removed (the users stay), then graph.yaml loaded anew (bill ids are new: use `built`)."""
    async with services.sessions() as session, session.begin():
        for model in (Commitment, Document, VendorAlias, Vendor):
            await session.execute(delete(model))
    return await build_graph(services)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def offline_services(request, tmp_path_factory):
    """Per database: one for the scenarios that only read (built once) and one for the scenarios
    that change data (rebuilt before each)."""
    made = []
    try:
        for use in ("reading", "changing"):
            tmp = tmp_path_factory.mktemp(f"scenarios-{request.param}-{use}")
            url = f"sqlite+aiosqlite:///{tmp / 'a.db'}" if request.param == "sqlite" else await create_pg_database()
            made.append((url, None))
            await upgrade(url)
            made[-1] = (url, build_services(make_settings(tmp, url, providers="offline")))
        reading, changing = made[0][1], made[1][1]
        yield {"reading": (reading, await build_graph(reading)), "changing": changing}
    finally:
        for url, services in made:
            if services is not None:
                await services.close()
            if request.param != "sqlite":
                await drop_pg_database(url)


@pytest.mark.parametrize("scenario", READING, ids=_ids(READING))
async def test_offline(offline_services, scenario):
    await run_offline(*offline_services["reading"], scenario)


@pytest.mark.parametrize("scenario", CHANGING, ids=_ids(CHANGING))
async def test_offline_changes(offline_services, scenario):
    services = offline_services["changing"]
    await run_offline(services, await rebuild_graph(services), scenario)


# ----------------------------------------------------------------------------------------------
# fake vendors


def sent_calls(vendor: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls of the last assistant turn, as the SDK sent them back to the vendor."""
    if vendor == "openai":
        message = [m for m in body["messages"] if m["role"] == "assistant"][-1]
        return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]
    if vendor == "anthropic":
        message = [m for m in body["messages"] if m["role"] == "assistant"][-1]
        return [(b["name"], b["input"]) for b in message["content"] if b.get("type") == "tool_use"]
    content = [c for c in body["contents"] if c.get("role") == "model"][-1]
    calls = [p.get("functionCall") or p.get("function_call") for p in content["parts"]]
    return [(c["name"], c.get("args") or {}) for c in calls if c]


async def run_vendor(vendor: str, services, fake, built: dict[str, Any], scenario: dict[str, Any]) -> None:
    alice, today, bills = built["users"]["alice"], built["today"], built["bills"]
    history: list[Message] = []
    fake.replies.clear()  # nothing left over from a scenario that failed
    for n, turn in enumerate(scenario["turns"], 1):
        where = f"{vendor} {scenario['id']} turn {n} ({turn['say']!r})"
        calls = [resolve(c, bills) for c in turn.get("calls") or []]
        text = f"Scripted answer {n} for {scenario['id']}."
        replies = ([Reply(tool_calls=[(c["name"], c.get("args") or {}) for c in calls])] if calls else [])
        fake.script(*replies, Reply(text=text))
        before = len(fake.requests)
        finished = await say(services, alice, today, history, message_text(turn, bills))
        assert finished.stopped is None, f"{where}: {finished.text}"
        assert finished.provider == vendor and finished.notices == [], f"{where}: answered by {finished.provider}"
        assert finished.text == text
        check_results(turn, finished, bills, where)
        requests = fake.requests[before:]
        assert len(requests) == len(replies) + 1 and not fake.replies, f"{where}: {len(requests)} requests"
        assert fake.seen(requests[0].body).last_user.endswith(message_text(turn, bills))
        if calls:
            last = requests[-1].body
            seen = fake.seen(last)
            assert {c["name"] for c in calls} <= set(seen.tools)
            assert [json.loads(r) for r in seen.tool_results] == [json.loads(json.dumps(c["result"]))
                                                                  for c in finished.tool_calls], where
            echoed = sent_calls(vendor, last)
            assert [n for n, _ in echoed] == [c["name"] for c in calls]
            for (_, args), call in zip(echoed, calls):
                assert same(args, call.get("args") or {}), f"{where}: sent back {args}"


@pytest.fixture(scope="module", params=MODEL_VENDORS)
async def fake_vendor(request):
    vendor = VENDORS[request.param]
    fake = await vendor.fake().start()
    try:
        yield request.param, fake
    finally:
        await fake.stop()


async def _vendor_services(name: str, fake, tmp: Path):
    settings = vendor_settings(tmp, VENDORS[name], fake.url)
    await upgrade(settings.database_url)
    services = build_services(settings)
    assert list(services.providers.offered) == [name, "offline"], services.providers.refused
    return services


@pytest.fixture(scope="module")
async def vendor_graph(fake_vendor, tmp_path_factory):
    """Per vendor: the real provider against its fake, one database for the scenarios that only read
    (built once) and one for those that change data (rebuilt before each)."""
    name, fake = fake_vendor
    reading = await _vendor_services(name, fake, tmp_path_factory.mktemp(f"vendor-{name}-reading"))
    changing = await _vendor_services(name, fake, tmp_path_factory.mktemp(f"vendor-{name}-changing"))
    try:
        yield name, fake, (reading, await build_graph(reading)), changing
    finally:
        await reading.close()
        await changing.close()


@pytest.mark.parametrize("scenario", READING, ids=_ids(READING))
async def test_vendor(vendor_graph, scenario):
    name, fake, (services, built), _ = vendor_graph
    await run_vendor(name, services, fake, built, scenario)


@pytest.mark.parametrize("scenario", CHANGING, ids=_ids(CHANGING))
async def test_vendor_changes(vendor_graph, scenario):
    name, fake, _, services = vendor_graph
    await run_vendor(name, services, fake, await rebuild_graph(services), scenario)
