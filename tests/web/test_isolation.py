"""Accounts and isolation: signed in as bob, nothing of alice's can be reached, by any route or id.

Alice files bills through the real chat (a pasted bill, an uploaded PDF, a question answered with a
table, a vendor card, feedback on an answer): she has documents, stored originals and attachments, a
thread with steps and elements, feedback, chunks in a real Chroma server and ledger rows. Every id
of hers is then read from the database, and bob, signed in with his own bills, tries each one by
every way in:

- HTTP (`ROUTES`): our routes and Chainlit's, every route that takes an id. The app is introspected
  as `assistant serve` builds it (`test_every_id_taking_route_and_socket_event_has_a_probe`): a new
  route or socket event that takes an id and has no probe fails that test;
- the socket (`SOCKET`): resuming her thread, taking over her session, sending, editing and
  starring messages under her message ids;
- the chat: bob asking, in his own words, about her bills, vendors, documents and account numbers;
- the tools, called directly with bob's `ToolContext` and her ids, `confirmed` as the Confirm button
  sends it (`TOOL_ARGS`: one entry per tool, a new tool without one fails);
- the CLI: `assistant usage --user bob`, `assistant calendar --user bob`.

Bob must get nothing: every answer has a status that gives nothing away (401/403/404, or 200 with
his own data only), and no answer shows any of alice's strings (vendor names, amounts, account and
invoice numbers, file name, the uuids of her rows) unless bob sent that string himself. Her rows
(every table, the stored files, her Chroma chunks) are the same before and after. Problems are
collected, not raised one by one, so a run lists every leak at once. Each read route and read tool
is then asked the same thing as alice, who must get it: a probe that cannot reach anything proves
nothing.

Leaks this test found (fixed in `assistant/web/history.py` and `routes.py`): Chainlit upserts
messages, elements and feedback by the ids the client sends, without checking their owner, so bob
could take over alice's thread (`PUT /project/element` with her thread id made him its owner, and
`GET /project/thread/<id>` then showed it all), delete her attachments (`DELETE /project/element`),
move her messages into his thread and overwrite them (`client_message` with her message id) and
rate, overwrite or delete feedback on her messages (`PUT`/`DELETE /feedback`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import socketio

from assistant import PROJECT_ROOT
from assistant.messages import ToolCall
from assistant.service import build_services
from tests.conftest import LiveServer, chroma_running, free_port, make_settings
from tests.factories import bill_text, text_pdf
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS, eventually, files_under, query, user_id

TODAY = date.today()
PASTED = bill_text("Zanzibar Quokka Power", "4321.87", TODAY + timedelta(days=20), account="QX-7788-ZZ-31",
                   invoice="ZQ-4417")
PDF_NAME = "marmoset-lagoon.pdf"
PDF = text_pdf(bill_text("Marmoset Water Works", "987.65", TODAY + timedelta(days=30), account="MW-5511-QQ-42",
                         invoice="MW-0923"))
BOBS_BILL = bill_text("Bobcat Builders Supply", "55.55", TODAY + timedelta(days=10), account="BB-1000-01")
STATUS_DENIED = frozenset({401, 403, 404})


# ----------------------------------------------------------------------------------------------
# alice's objects


@dataclass
class Alice:
    """Alice's ids, read from the database, and the strings that must never reach bob."""

    user_id: str
    session_id: str  # her chat's socket session
    file_id: str  # her upload, as Chainlit's session knows it
    bills: list[int]
    documents: list[int]
    vendors: list[str]
    accounts: list[str]
    invoices: list[str]
    threads: list[str]
    steps: list[str]
    user_messages: list[str]
    elements: list[dict[str, Any]]
    feedbacks: list[str]
    secrets: list[str] = field(default_factory=list)


@dataclass
class Bob:
    user_id: str
    session_id: str
    thread_id: str
    step_id: str  # one of his own messages


async def read_alice(db: str, session_id: str, file_id: str) -> Alice:
    me = await user_id(db, "alice")
    threads = [r["id"] for r in await query(db, 'SELECT id FROM threads WHERE "userId" = :u', u=me)]
    in_threads = 'IN (SELECT id FROM threads WHERE "userId" = :u)'
    steps = await query(db, f'SELECT id, type FROM steps WHERE "threadId" {in_threads}', u=me)
    documents = await query(db, "SELECT id, sha256, filename, account_number, invoice_number FROM documents "
                                "WHERE owner_id = :u", u=me)
    bills = await query(db, "SELECT id, amount FROM commitments WHERE owner_id = :u", u=me)
    usage = await query(db, "SELECT turn_id FROM llm_usage WHERE owner_id = :u", u=me)
    alice = Alice(
        user_id=me, session_id=session_id, file_id=file_id,
        bills=[r["id"] for r in bills], documents=[r["id"] for r in documents],
        vendors=[r["name"] for r in await query(db, "SELECT name FROM vendors WHERE owner_id = :u", u=me)],
        accounts=[r["account_number"] for r in documents], invoices=[r["invoice_number"] for r in documents],
        threads=threads, steps=[r["id"] for r in steps],
        user_messages=[r["id"] for r in steps if r["type"] == "user_message"],
        elements=await query(db, f'SELECT id, "threadId", "forId", type, name, "objectKey" '
                                 f'FROM elements WHERE "threadId" {in_threads}', u=me),
        feedbacks=[r["id"] for r in await query(db, f'SELECT id FROM feedbacks WHERE "threadId" {in_threads}',
                                                u=me)])
    amounts = [Decimal(str(r["amount"])) for r in bills]
    alice.secrets = sorted({*alice.vendors, *alice.accounts, *alice.invoices, PDF_NAME, me, session_id, file_id,
                            *(str(a) for a in amounts), *(f"{a:,.2f}" for a in amounts),
                            *(r["sha256"] for r in documents), *(r["turn_id"] for r in usage if r["turn_id"]),
                            *threads, *alice.steps, *alice.feedbacks,
                            *(e["id"] for e in alice.elements), *(e["objectKey"] for e in alice.elements)})
    return alice


def shown(alice: Alice, answer: str, sent: str) -> list[str]:
    """Alice's strings in `answer` that bob did not send himself."""
    return [s for s in alice.secrets if s in answer and s not in sent]


async def alice_state(db: str, alice_id: str, data_dir: Path, chroma_url: str) -> dict[str, Any]:
    """Everything of alice's: her rows in every table, her stored files, her Chroma chunks."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from assistant.documents import store
    from assistant.documents.index import COLLECTION

    owned = "owner_id = :u"
    chat = 'IN (SELECT id FROM threads WHERE "userId" = :u)'
    tables = {"users": "SELECT * FROM users WHERE id = :u", "vendors": f"SELECT * FROM vendors WHERE {owned}",
              "vendor_aliases": f"SELECT * FROM vendor_aliases WHERE {owned}",
              "documents": f"SELECT * FROM documents WHERE {owned}",
              "commitments": f"SELECT * FROM commitments WHERE {owned}",
              "llm_usage": f"SELECT * FROM llm_usage WHERE {owned}",
              "threads": 'SELECT * FROM threads WHERE "userId" = :u',
              "steps": f'SELECT * FROM steps WHERE "threadId" {chat}',
              "elements": f'SELECT * FROM elements WHERE "threadId" {chat}',
              "feedbacks": f'SELECT * FROM feedbacks WHERE "threadId" {chat}'}
    state: dict[str, Any] = {}
    for table, sql in tables.items():
        rows = await query(db, sql, u=alice_id)
        state[table] = sorted((json.dumps(r, default=str, sort_keys=True) for r in rows))
    originals = [store.path_for(data_dir / "documents", r["sha256"])
                 for r in await query(db, f"SELECT sha256 FROM documents WHERE {owned}", u=alice_id)]
    files = originals + files_under(data_dir / "attachments" / alice_id)  # (originals are shared by content)
    state["files"] = [(str(p.relative_to(data_dir)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]

    def chunks() -> list[tuple]:
        url = urlsplit(chroma_url)
        client = chromadb.HttpClient(host=url.hostname, port=url.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        got = client.get_collection(COLLECTION).get(where={"owner_id": alice_id}, include=["documents", "metadatas"])
        return sorted(zip(got["ids"], got["documents"], [json.dumps(m, sort_keys=True) for m in got["metadatas"]]))

    state["chroma"] = await asyncio.to_thread(chunks)
    return state


async def steady(read: Callable[[], Any]) -> Any:
    """`read()` once two reads half a second apart agree (Chainlit writes history in the background,
    and saves a session into its thread when the tab closes)."""
    last: list[Any] = [await read()]

    async def same() -> Any:
        await asyncio.sleep(0.5)
        now = await read()
        try:
            assert now == last[0]
        finally:
            last[0] = now
        return now

    return await eventually(same, timeout=60, what="alice's rows to settle")


# ----------------------------------------------------------------------------------------------
# the probes: HTTP routes


@dataclass(frozen=True)
class Ask:
    """One HTTP request bob makes; `statuses` are the answers that give nothing away."""

    method: str
    url: str
    statuses: frozenset[int] = STATUS_DENIED
    json: Any = None
    params: dict[str, str] | None = None
    files: dict[str, tuple] | None = None
    owner_gets_it: bool = False  # a read: alice, asking the same, gets a 200

    async def made_by(self, http: httpx.AsyncClient) -> tuple[int | None, str]:
        """The status and body of this request made with `http` (None: the server broke the connection)."""
        try:
            got = await http.request(self.method, self.url, params=self.params, json=self.json, files=self.files)
        except httpx.TransportError as exc:
            return None, repr(exc)
        return got.status_code, got.content.decode("utf-8", "replace")

    @property
    def sent(self) -> str:
        return f"{self.url} {json.dumps(self.json)} {json.dumps(self.params)}"


def _custom(element: dict[str, Any], thread_id: str, for_id: str) -> dict[str, Any]:
    """An element as the UI sends it to `PUT`/`DELETE /project/element` (Chainlit acts on "custom" ones)."""
    return {"type": "custom", "id": element["id"], "threadId": thread_id, "forId": for_id, "name": "x",
            "display": "inline", "props": {"by": "bob"}}


def _element_asks(method: str) -> Callable[[Alice, Bob], list[Ask]]:
    def asks(a: Alice, b: Bob) -> list[Ask]:
        out = []
        for e in a.elements:
            for thread_id, for_id in ((e["threadId"], e["forId"]), (b.thread_id, e["forId"]),
                                      (b.thread_id, b.step_id)):
                out.append(Ask(method, "/project/element", frozenset({200}),
                               json={"sessionId": b.session_id, "element": _custom(e, thread_id, for_id)}))
            real = {**_custom(e, e["threadId"], e["forId"]), "type": e["type"]}
            out.append(Ask(method, "/project/element", frozenset({200}),
                           json={"sessionId": b.session_id, "element": real}))
            out.append(Ask(method, "/project/element", STATUS_DENIED,
                           json={"sessionId": a.session_id, "element": _custom(e, e["threadId"], e["forId"])}))
        return out
    return asks


def _actions(a: Alice, b: Bob) -> list[Ask]:
    """Every action callback, from alice's session, and (those that do not wait for an answer) from
    bob's own session with her ids as the payload."""
    out = []
    for name in ("confirm_action", "cancel_action", "confirm_bill", "edit_bill"):
        action = {"id": str(uuid.uuid4()), "name": name, "payload": {"pending": a.steps[0], "review": a.steps[0]},
                  "forId": a.user_messages[0]}
        out.append(Ask("POST", "/project/action", STATUS_DENIED, json={"sessionId": a.session_id, "action": action}))
        if name != "edit_bill":  # it asks bob for corrections and waits for his answer
            out.append(Ask("POST", "/project/action", frozenset({200}),
                           json={"sessionId": b.session_id, "action": action}))
    return out


# (method, route as the app registers it) -> the requests bob makes with alice's ids
ROUTES: dict[tuple[str, str], Callable[[Alice, Bob], list[Ask]]] = {
    ("GET", "/attachments/{key:path}"): lambda a, b: [
        Ask("GET", f"/attachments/{quote(e['objectKey'])}", owner_gets_it=True) for e in a.elements
    ] + [Ask("GET", f"/attachments/{b.user_id}/..%2F{quote(e['objectKey'])}") for e in a.elements],
    ("GET", "/documents/{document_id}"): lambda a, b: [
        Ask("GET", f"/documents/{d}", owner_gets_it=True) for d in a.documents],
    ("GET", "/calendar.ics"): lambda a, b: [Ask("GET", "/calendar.ics", frozenset({200}), params={"days": "366"})],
    ("PUT", "/feedback"): lambda a, b: [
        *(Ask("PUT", "/feedback", json={"sessionId": b.session_id, "feedback": {
            "forId": s, "threadId": t, "value": 0, "comment": "bob"}})
          for s in a.steps for t in (a.threads[0], b.thread_id)),
        *(Ask("PUT", "/feedback", json={"sessionId": b.session_id, "feedback": {
            "id": f, "forId": b.step_id, "threadId": b.thread_id, "value": 0}}) for f in a.feedbacks),
        *(Ask("PUT", "/feedback", json={"sessionId": b.session_id, "feedback": {
            "forId": b.step_id, "threadId": t, "value": 0}}) for t in a.threads)],
    ("DELETE", "/feedback"): lambda a, b: [Ask("DELETE", "/feedback", json={"feedbackId": f}) for f in a.feedbacks],
    ("POST", "/project/threads"): lambda a, b: [
        Ask("POST", "/project/threads", frozenset({200}), json={
            "pagination": {"first": 100, "cursor": None}, "filter": {"userId": a.user_id, "search": word}})
        for word in (None, *a.vendors)],
    ("GET", "/project/thread/{thread_id}"): lambda a, b: [
        Ask("GET", f"/project/thread/{t}", owner_gets_it=True) for t in a.threads],
    ("GET", "/project/share/{thread_id}"): lambda a, b: [Ask("GET", f"/project/share/{t}") for t in a.threads],
    # (not `owner_gets_it`: Chainlit's `get_element` answers its owner 500, `json.loads` of an element's
    # props read back as NULL or, on PostgreSQL, already decoded)
    ("GET", "/project/thread/{thread_id}/element/{element_id}"): lambda a, b: [
        *(Ask("GET", f"/project/thread/{e['threadId']}/element/{e['id']}") for e in a.elements),
        *(Ask("GET", f"/project/thread/{b.thread_id}/element/{e['id']}", frozenset({200})) for e in a.elements)],
    ("PUT", "/project/element"): _element_asks("PUT"),
    ("DELETE", "/project/element"): _element_asks("DELETE"),
    ("PUT", "/project/thread"): lambda a, b: [
        Ask("PUT", "/project/thread", json={"threadId": t, "name": "renamed by bob"}) for t in a.threads],
    ("PUT", "/project/thread/share"): lambda a, b: [
        Ask("PUT", "/project/thread/share", json={"threadId": t, "isShared": True}) for t in a.threads],
    ("DELETE", "/project/thread"): lambda a, b: [Ask("DELETE", "/project/thread", json={"threadId": t})
                                                 for t in a.threads],
    ("POST", "/project/action"): _actions,
    ("POST", "/mcp"): lambda a, b: [Ask("POST", "/mcp", STATUS_DENIED | {400}, json={
        "sessionId": a.session_id, "name": "anything", "clientType": "sse", "url": "http://127.0.0.1:9/"})],
    ("DELETE", "/mcp"): lambda a, b: [Ask("DELETE", "/mcp", json={"sessionId": a.session_id, "name": "anything"})],
    ("POST", "/project/file"): lambda a, b: [Ask("POST", "/project/file", params={"session_id": a.session_id},
                                                 files={"file": ("x.txt", b"from bob", "text/plain")})],
    ("GET", "/project/file/{file_id}"): lambda a, b: [
        Ask("GET", f"/project/file/{a.file_id}", params={"session_id": a.session_id}),
        Ask("GET", f"/project/file/{a.file_id}", params={"session_id": b.session_id})],
    ("GET", "/avatars/{avatar_id:str}"): lambda a, b: [
        Ask("GET", f"/avatars/{name}", STATUS_DENIED | {200}) for name in ("alice", a.user_id)],
    ("GET", "/{full_path:path}"): lambda a, b: [  # the UI's own URLs
        Ask("GET", f"/thread/{t}", frozenset({200})) for t in a.threads],
}

# Routes that take a path parameter but address nothing of a user's.
NOT_USER_DATA = {
    ("GET", "/public/{filename:path}"): "files shipped with the app (public/)",
    ("GET", "/assets/{filename:path}"): "the UI's own build files",
    ("GET", "/copilot/{filename:path}"): "the copilot widget's build files",
    ("GET", "/auth/oauth/{provider_id}"): "sign-in through an OAuth provider (none is configured)",
    ("GET", "/auth/oauth/{provider_id}/callback"): "sign-in through an OAuth provider (none is configured)",
}


# ----------------------------------------------------------------------------------------------
# the probes: socket events


async def _connect_refused(server: LiveServer, bob: ChatClient, auth: dict[str, Any]) -> str | None:
    """A socket connection as bob with `auth`; None when refused, else what it let him see."""
    sio = socketio.AsyncClient(reconnection=False)
    seen: list[Any] = []
    sio.on("*", lambda event, *args: seen.append((event, args)))
    auth = {"sessionId": str(uuid.uuid4()), "clientType": "webapp", "threadId": None, "userEnv": "{}", **auth}
    try:
        await sio.connect(server.url, socketio_path="/ws/socket.io", transports=["websocket"], auth=auth,
                          headers={"Cookie": f"access_token={bob.token}"}, wait_timeout=30)
    except socketio.exceptions.ConnectionError:
        return None
    try:
        await sio.emit("connection_successful")
        await asyncio.sleep(2)
        return json.dumps(seen, default=str)
    finally:
        await sio.disconnect()


def asked(turn) -> str:
    """The id of the user message a turn answered (the parent of its `on_message` run)."""
    return next(d["parentId"] for n, d in turn.events
                if n == "update_message" and d.get("type") == "run" and d.get("name") == "on_message")


async def _turn_over(bob: ChatClient, message_id: str, runs: int = 1) -> None:
    """Wait until the server has closed `runs` turns (its `on_message` run steps) for `message_id`."""
    def closed(name: str, data: Any) -> bool:
        return (name == "update_message" and isinstance(data, dict) and data.get("type") == "run"
                and data.get("parentId") == message_id)

    async def enough() -> None:
        assert sum(1 for n, d in bob.events if closed(n, d)) >= runs

    await eventually(enough, timeout=60, what=f"bob's turn on message {message_id}")


async def socket_probes(server: LiveServer, bob: ChatClient, a: Alice, b: Bob, problems: list[str]) -> None:
    # connect: resume her thread; take over her session
    for auth in [{"threadId": t} for t in a.threads] + [{"sessionId": a.session_id}]:
        seen = await _connect_refused(server, bob, auth)
        if seen is not None:
            problems.append(f"socket connect {auth}: not refused; saw {shown(a, seen, json.dumps(auth))}")
    # client_message under each of her message ids: a message of his own, never an overwrite of hers
    mark = len(bob.events)
    for step_id in a.steps:
        await bob.sio.emit("client_message", {"message": {"id": step_id, "type": "user_message", "output": "hi",
                                                          "name": "bob", "threadId": a.threads[0], "createdAt": ""}})
    for step_id in a.steps:
        await _turn_over(bob, step_id)
    # edit_message on one of her ids (now in his chat): an update of her message, and a new turn
    edited = a.user_messages[-1]
    await bob.sio.emit("edit_message", {"message": {"id": edited, "output": "edited", "type": "user_message"}})
    await _turn_over(bob, edited, runs=2)
    # editing a message removes what followed it in the chat: one under her id follows his own
    turn = await bob.send("hello again")
    own = asked(turn)
    follows = a.user_messages[0]
    await bob.sio.emit("client_message", {"message": {"id": follows, "type": "user_message", "output": "hi",
                                                      "name": "bob", "threadId": "", "createdAt": ""}})
    await _turn_over(bob, follows, runs=2)
    await bob.sio.emit("edit_message", {"message": {"id": own, "output": "edited", "type": "user_message"}})
    await _turn_over(bob, own, runs=2)
    # message_favorite (favourites are off: nothing at all may happen)
    for step_id in a.steps:
        await bob.sio.emit("message_favorite", {"message": {"id": step_id, "metadata": {"favorite": True}}})
    await bob.send("that is all")
    events = json.dumps(bob.events[mark:], default=str)
    sent = " ".join(a.steps + a.threads)
    if leaked := shown(a, events, sent):
        problems.append(f"socket messages under alice's ids: bob's chat showed {leaked}")


SOCKET = {"connect", "client_message", "edit_message", "message_favorite"}  # probed in `socket_probes`
NO_IDS = {  # socket events that act on the caller's own session and take no id of a stored object
    "connection_successful": "starts the caller's own session",
    "disconnect": "ends it", "clear_session": "ends it",
    "stop": "stops the caller's running turn",
    "fetch_favorites": "lists the caller's own favourites (by their session's user)",
    "window_message": "a message from the page hosting the chat (no handler in this app)",
    "audio_start": "voice input (off)", "audio_chunk": "voice input (off)", "audio_end": "voice input (off)",
    "chat_settings_change": "the caller's own settings panel", "chat_settings_edit": "the caller's own settings panel",
}


# ----------------------------------------------------------------------------------------------
# the probes: tools and chat


def TOOL_ARGS(a: Alice) -> dict[str, list[dict[str, Any]]]:  # noqa: N802 - a table, like the others
    """Per tool, the calls bob makes with alice's ids and names. `confirmed` is honoured (the calls are
    made as the Confirm button makes them), so only the owner check stands between bob and her bills.
    create_commitment comes last: it files a bill of bob's own under her vendor's name."""
    far = {"date_from": "2000-01-01", "date_to": (TODAY + timedelta(days=3650)).isoformat()}
    return {
        "add_bill": [{"attachment_id": i, "confirmed": True} for i in ("paste-1", "file-1", a.file_id)],
        "find_bills": [{"status": "any", "limit": 200}, *({"vendor": v, "status": "any"} for v in a.vendors),
                       *({"text": w, "status": "any"} for w in [*a.vendors, *a.invoices])],
        "summarize_spending": [{"group_by": g, "basis": basis, **far} for g in ("vendor", "month")
                               for basis in ("paid", "billed")] + [{"vendor": v, "basis": "billed", **far}
                                                                   for v in a.vendors],
        "upcoming": [{"days": 366}],
        "vendor_profile": [{"vendor": v} for v in a.vendors],
        "search_documents": [{"query": w, "limit": 20} for w in [*a.vendors, *a.accounts, *a.invoices, "water bill"]],
        "mark_paid": [*({"bill_id": i, "confirmed": True} for i in a.bills),
                      *({"vendor": v, "confirmed": True} for v in a.vendors)],
        "snooze": [*({"bill_id": i, "days": 30, "confirmed": True} for i in a.bills),
                   *({"vendor": v, "days": 30, "confirmed": True} for v in a.vendors)],
        "cancel": [*({"bill_id": i, "confirmed": True} for i in a.bills),
                   *({"vendor": v, "confirmed": True} for v in a.vendors)],
        "calendar_feed": [{"days": 366}],
        "list_vendors": [{}],
        "ai_usage": [{}],
        "create_commitment": [{"vendor": v, "amount": "12.34", "due_date": (TODAY + timedelta(days=5)).isoformat(),
                               "confirmed": True} for v in a.vendors],
    }


READ_TOOLS = {"find_bills", "summarize_spending", "upcoming", "vendor_profile", "search_documents", "list_vendors"}


def chat_questions(a: Alice) -> list[str]:
    return [*(f"mark bill #{i} as paid" for i in a.bills), *(f"cancel bill #{i}" for i in a.bills),
            *(f"snooze bill #{i} until next week" for i in a.bills),
            *(f"how much did I pay {v} this year?" for v in a.vendors), *(f"tell me about {v}" for v in a.vendors),
            *(f"find the document with account number {n}" for n in a.accounts),
            *(f"show me document {d}" for d in a.documents),
            "what's due in the next year?", "who do I pay?", "how much have I spent on AI?",
            "put my bills in my calendar", "find my water bill"]


async def call_as(services, who: str, name: str, args: dict[str, Any]):
    ctx = services.tool_context(who)
    ctx.by_model = False  # as the Confirm button calls: `confirmed` counts
    return await services.registry.call(ToolCall("probe", name, args), ctx)


# ----------------------------------------------------------------------------------------------
# the test


@pytest.fixture
def chroma(tmp_path, monkeypatch):
    """A real Chroma server, for the app (CHROMA_URL, inherited by `live_server`) and for this test."""
    with chroma_running(free_port(), tmp_path / "chroma") as url:
        monkeypatch.setenv("CHROMA_URL", url)
        yield url


async def alice_files_her_bills(server: LiveServer) -> tuple[ChatClient, str, str]:
    """Alice's bills, filed and asked about in the real chat. Returns her signed-in HTTP client (for
    the owner's side of each probe), her chat's session id and her upload's file id."""
    async with ChatClient(server.url, "alice", USERS["alice"], timeout=120) as chat:
        turn = await chat.send(PASTED)
        assert "Filed a bill from **Zanzibar Quokka Power**" in turn.text, turn.text
        ref = await chat.upload(PDF_NAME, PDF, "application/pdf")
        turn = await chat.send("here is the water bill", [ref])
        assert "Filed a bill from **Marmoset Water Works**" in turn.text, turn.text
        turn = await chat.send("What's due in the next 60 days?")
        assert turn.elements, "no table under the answer"
        turn = await chat.send("Tell me about Zanzibar Quokka Power")
        assert turn.elements, "no vendor card under the answer"
        answer = turn.messages[-1]["id"]
        rated = await chat.http.put("/feedback", json={"sessionId": chat.session_id, "feedback": {
            "forId": answer, "threadId": chat.thread_id, "value": 1, "comment": "useful"}})
        assert rated.status_code == 200, rated.text  # the owner may rate her own answers
        session_id = chat.session_id
    owner = ChatClient(server.url, "alice", USERS["alice"])
    await owner.login()
    return owner, session_id, ref["id"]


async def test_bob_reaches_nothing_of_alices(chroma, live_server: LiveServer, tmp_path):
    server, db = live_server, live_server.database_url
    owner, session_id, file_id = await alice_files_her_bills(server)
    alice_id = await user_id(db, "alice")
    before = await steady(lambda: alice_state(db, alice_id, server.data_dir, chroma))
    a = await read_alice(db, session_id, file_id)
    # what she has, so that every probe below has something to miss
    assert len(a.bills) == 2 and len(a.documents) == 2 and len(a.threads) == 1 and len(a.feedbacks) == 1
    assert {e["type"] for e in a.elements} >= {"pdf", "dataframe", "custom"}, a.elements
    assert before["chroma"] and before["llm_usage"] and len(before["files"]) >= 2 + len(a.elements)
    problems: list[str] = []

    async with ChatClient(server.url, "bob", USERS["bob"], timeout=120) as bob_chat:
        turn = await bob_chat.send(BOBS_BILL)
        assert "Filed a bill from **Bobcat Builders Supply**" in turn.text, turn.text
        b = Bob(await user_id(db, "bob"), bob_chat.session_id, bob_chat.thread_id, asked(turn))

        # HTTP
        for (method, route), make in ROUTES.items():
            for ask in make(a, b):
                status, body = await ask.made_by(bob_chat.http)
                if status not in ask.statuses:
                    problems.append(f"{ask.method} {ask.url} {ask.json or ''} as bob: {status} "
                                    f"(expected {sorted(ask.statuses)}): {body[:200]}")
                if leaked := shown(a, body, ask.sent):
                    problems.append(f"{ask.method} {ask.url} {ask.json or ''} as bob shows {leaked}")

        # the socket
        await socket_probes(server, bob_chat, a, b, problems)

        # the chat, in bob's words
        for question in chat_questions(a):
            turn = await bob_chat.send(question)
            if leaked := shown(a, json.dumps(turn.events, default=str), question):
                problems.append(f"bob asked {question!r}: the chat showed {leaked}")

    # the CLI
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(server.data_dir), "DATABASE_URL": db}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    usage = json.loads(await asyncio.to_thread(cli, "usage", "--user", "bob", "--json"))
    bobs_calls = await query(db, "SELECT count(*) AS n FROM llm_usage WHERE owner_id = :u "
                                 "AND status IN ('settled', 'reserved')", u=b.user_id)
    if usage["windows"]["this month"]["calls"] != bobs_calls[0]["n"]:
        problems.append(f"assistant usage --user bob counts {usage['windows']['this month']['calls']} calls; "
                        f"bob made {bobs_calls[0]['n']}")
    for args in (("usage", "--user", "bob", "--json"), ("calendar", "--user", "bob", "--days", "366")):
        if leaked := shown(a, await asyncio.to_thread(cli, *args), ""):
            problems.append(f"assistant {' '.join(args)} shows {leaked}")

    # the tools, with bob's context
    services = build_services(make_settings(tmp_path, db))
    try:
        assert services.settings.chroma_url == chroma
        for name, calls in TOOL_ARGS(a).items():
            for args in calls:
                outcome = await call_as(services, b.user_id, name, args)
                answer = json.dumps(outcome.result, default=str)
                if leaked := shown(a, answer, json.dumps(args)):
                    problems.append(f"tool {name}({args}) as bob shows {leaked}")
                if name in ("mark_paid", "snooze", "cancel") and not outcome.is_error:
                    problems.append(f"tool {name}({args}) as bob did not fail: {answer[:200]}")
                if name == "create_commitment" and outcome.result.get("vendor_match") != "new":
                    problems.append(f"tool {name}({args}) as bob used alice's vendor: {answer[:200]}")

        after = await alice_state(db, alice_id, server.data_dir, chroma)
        for part in before:
            if after[part] != before[part]:
                gone = [r for r in before[part] if r not in after[part]]
                new = [r for r in after[part] if r not in before[part]]
                problems.append(f"alice's {part} changed: was {gone}, now {new}")

        # the probes are not blind: alice, asking the same, gets her things
        for (method, route), make in ROUTES.items():
            for ask in make(a, b):
                if ask.owner_gets_it:
                    status, body = await ask.made_by(owner.http)
                    if status != 200 or not body:
                        problems.append(f"{ask.method} {ask.url} as alice: {status} {body[:200]}")
        _, calendar = await Ask("GET", "/calendar.ics", params={"days": "366"}).made_by(owner.http)
        if "Zanzibar Quokka Power" not in calendar:
            problems.append("alice's calendar lacks her bill")
        for name in READ_TOOLS:
            answers = [json.dumps((await call_as(services, alice_id, name, args)).result, default=str)
                       for args in TOOL_ARGS(a)[name]]
            if not any(shown(a, answer, "") for answer in answers):
                problems.append(f"tool {name} as alice shows none of her things: {answers}")
        mine = await call_as(services, alice_id, "ai_usage", {})
        if "offline" not in json.dumps(mine.result):
            problems.append(f"ai_usage as alice shows none of her calls: {mine.result}")
    finally:
        await services.close()
        await owner.close()

    print(f"bob's probes: {sum(len(m(a, b)) for m in ROUTES.values())} HTTP requests on {len(ROUTES)} routes, "
          f"{len(a.threads) + 1} socket connections, {len(a.steps) + 2} messages under alice's ids, "
          f"{len(chat_questions(a))} chat questions, {sum(len(c) for c in TOOL_ARGS(a).values())} tool calls; "
          f"alice's strings watched for: {len(a.secrets)}")
    assert problems == [], "\n".join(problems)
    assert "QX-7788-ZZ-31" not in server.log() and "MW-5511-QQ-42" not in server.log()


# ----------------------------------------------------------------------------------------------
# every way in has a probe


DUMP_APP = r"""
import dataclasses, json, typing
import assistant.web.app  # the app as `assistant serve` builds it, our routes included
from chainlit.server import app, sio
from fastapi.routing import APIRoute

def names(tp, prefix):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Union and len(args) == 1:
        tp = args[0]
    if tp is dict or typing.get_origin(tp) is dict:
        return [prefix + ".*"]  # free-form: may carry any id
    if hasattr(tp, "model_fields") or dataclasses.is_dataclass(tp):
        return [n for name, sub in typing.get_type_hints(tp).items()
                for n in names(sub, f"{prefix}.{name}" if prefix else name)]
    return [prefix]

def routes(items):
    for r in items:
        if hasattr(r, "original_router"):  # an included router
            yield from routes(r.original_router.routes)
        elif isinstance(r, APIRoute):
            d = r.dependant
            inputs = [p.name for p in d.path_params] + [p.name for p in d.query_params]
            for p in d.body_params:
                inputs += [n or p.name for n in names(p.field_info.annotation, "")]
            for method in sorted(r.methods):
                yield {"method": method, "path": r.path, "path_params": [p.name for p in d.path_params],
                       "inputs": inputs}

print(json.dumps({"routes": list(routes(app.routes)), "events": sorted(sio.handlers.get("/", {}))}))
"""

ID_LIKE = re.compile(r"(^|\.)(id|key)$|_id$|Id$|_key$|\.\*$")


def takes_an_id(route: dict[str, Any]) -> bool:
    """A path parameter (it addresses something), or an input named like an id or key, or a free-form
    object (it may carry any id)."""
    return bool(route["path_params"]) or any(ID_LIKE.search(name) for name in route["inputs"])


def test_every_id_taking_route_and_socket_event_has_a_probe(tmp_path):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db",
           "ASSISTANT_USERS": "", "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40, "ENVIRONMENT": "test"}
    done = subprocess.run([sys.executable, "-c", DUMP_APP], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    app = json.loads(done.stdout.strip().splitlines()[-1])
    registered = {(r["method"], r["path"]) for r in app["routes"]}
    id_taking = {(r["method"], r["path"]) for r in app["routes"] if takes_an_id(r)}
    # the rule sees what it should
    assert {("GET", "/documents/{document_id}"), ("PUT", "/feedback"), ("POST", "/project/action"),
            ("GET", "/project/file/{file_id}"), ("POST", "/project/threads")} <= id_taking
    assert ("GET", "/health/live") not in id_taking
    assert id_taking - set(ROUTES) - set(NOT_USER_DATA) == set(), "routes that take an id but have no probe"
    assert set(ROUTES) - registered == set() and set(NOT_USER_DATA) - registered == set(), "stale entries"
    events = set(app["events"])
    assert events - SOCKET - set(NO_IDS) == set(), "socket events with no probe"
    assert (SOCKET | set(NO_IDS)) - events == set(), "stale entries"


def test_every_tool_has_a_probe(tmp_path):
    from assistant.toolkit import load_registry

    tools = set(load_registry().tools)
    fake = Alice("u", "s", "f", [1], [1], ["V"], ["A"], ["I"], ["t"], ["s"], ["s"], [], [])
    assert set(TOOL_ARGS(fake)) == tools
    assert READ_TOOLS <= tools
