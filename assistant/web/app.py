"""The Chainlit app: sign-in, starters, one agent turn per message, tool calls as Steps.

Run with `assistant serve`. Thin on purpose: everything a test would want lives elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import chainlit as cl
import jwt
from chainlit.input_widget import Select, TextInput
import chainlit.config
import chainlit.server

from assistant import logs
from assistant.agent import ToolFinished, ToolStarted, TurnFinished
from assistant.documents.catchup import index_pending
from assistant.documents.recognise import looks_like_bill
from assistant.graph.users import authenticate
from assistant.documents.reader import sniff_path
from assistant.documents.corrections import parse_corrections
from assistant.messages import Attachment, Message, TextDelta, ToolCall, with_attachment_note
from assistant.providers.offline.actions_answers import phrase_action
from assistant.providers.offline.answers import describe_filing
from assistant.providers.chain import label
from assistant.providers.registry import UnpricedModel
from assistant.service import build_services
from assistant.settings import get_settings
from assistant.web import chat_memory, heap, ordering, routes
from assistant.web.history import HistoryDataLayer
from assistant.web.storage import LocalStorage
from assistant.web.transcript import footer, messages_from_steps, tool_metadata
from assistant.web.views import AnswerViews, warm_up

settings = get_settings()
logs.configure(settings.environment, settings.log_level)
log = logging.getLogger("assistant.web")
services = build_services(settings)
storage = LocalStorage(settings.attachments_dir)
routes.install(storage, services)

# Chainlit keeps each session's uploads under `<app root>/.files/<session>/` and deletes the whole
# `.files` at shutdown: when one of two servers on the same checkout stopped (a rolling restart,
# a second worker, a test run), the other lost its uploads and every upload after that failed
# with a 500. Give each process a directory of its own (Chainlit still deletes it at shutdown).
(settings.data_dir.resolve() / "uploads").mkdir(parents=True, exist_ok=True)
uploads_dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=settings.data_dir.resolve() / "uploads"))
chainlit.config.FILES_DIRECTORY = chainlit.server.FILES_DIRECTORY = uploads_dir
# A sign-in lasts SESSION_TIMEOUT seconds: the token Chainlit issues at sign-in expires then (HTTP
# routes and a new socket connection refuse it), and `_signed_out` below stops an open chat.
chainlit.config.config.project.user_session_timeout = settings.session_timeout
# Chainlit sleeps 1 ms, blocking every chat, in each message's and step's constructor: see ordering.py.
ordering.install()
# Chainlit keeps every message of every chat in memory, for good: an open chat's latest turns only, and
# nothing once its session is deleted (chat_memory.py).
chat_memory.install(settings.conversation_turns)

TOOL_LABELS = {"add_bill": "Filing the bill", "find_bills": "Looking up bills",
               "mark_paid": "Marking paid", "list_vendors": "Listing vendors",
               "create_commitment": "Adding a bill", "snooze": "Snoozing", "cancel": "Cancelling",
               "calendar_feed": "Making the calendar", "summarize_spending": "Adding up spending",
               "upcoming": "Checking what's coming up", "vendor_profile": "Looking at the vendor",
               "search_documents": "Searching documents", "ai_usage": "Checking AI costs"}


history_layer = HistoryDataLayer(services.engine, storage)


@cl.data_layer
def _data_layer() -> HistoryDataLayer:
    return history_layer


@cl.on_app_startup
async def _startup() -> None:
    await services.seed_users()
    await asyncio.to_thread(warm_up)  # the charts' library, loaded before the first chat needs it
    # freed memory back to the OS every HEAP_TRIM_INTERVAL s (glibc keeps it otherwise): heap.py
    _in_background(heap.trim_periodically(settings.heap_trim_interval))
    log.info("app ready", extra={"provider": services.provider.name,
                                 "database": services.engine.dialect.name})


@cl.on_app_shutdown
async def _shutdown() -> None:
    for task in _background:
        task.cancel()
    await services.close()


@cl.password_auth_callback
async def _sign_in(username: str, password: str) -> cl.User | None:
    user = await authenticate(services.sessions, username.strip(), password)
    if user is None:
        log.info("sign-in refused")
        return None
    return cl.User(identifier=user.identifier, metadata={"provider": "credentials"})


@cl.set_starters
async def _starters(_user: cl.User | None = None, _language: str | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="What's due this week?", message="What's due this week?"),
        cl.Starter(label="Anything overdue?", message="Anything overdue?"),
        cl.Starter(label="Who do I pay?", message="Who do I pay?"),
        cl.Starter(label="What can you do?", message="What can you do?"),
    ]


async def _send_settings_panel() -> None:
    """Provider and model for this conversation (only the providers this installation offers)."""
    offered = services.providers.offered
    items = {f"{label(p)[0].upper()}{label(p)[1:]} ({p.model})": name for name, p in offered.items()}
    await cl.ChatSettings([
        Select(id="provider", label="Model provider", items=items, initial_value=next(iter(offered)),
               description="Tried first; the others follow if it fails."),
        TextInput(id="model", label="Model", initial="",
                  description="Blank: the provider's default. Must have a price in config/pricing.yaml."),
    ]).send()


@cl.on_settings_update
async def _settings_update(values: dict[str, Any]) -> None:
    provider, model = values.get("provider"), (values.get("model") or "").strip() or None
    try:
        chain = services.providers.chain(settings, first=provider, model=model)
    except UnpricedModel as exc:
        await cl.Message(content=f"I can't use that model: {exc}. Keeping the previous choice.").send()
        return
    cl.user_session.set("provider", chain)
    who = label(chain.providers[0])
    await cl.Message(content=f"From now on {who} ({chain.providers[0].model}) answers first.").send()


def _catch_up_index() -> None:
    """In the background: index this user's bills filed while the search index was down."""
    user = cl.context.session.user
    if user is not None and services.index is not None:
        _in_background(index_pending(services.index, services.sessions, user.id))


_background: set[asyncio.Task] = set()  # held until done (the loop keeps only weak references); cancelled at shutdown


def _in_background(coro) -> None:
    task = asyncio.create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _remember_sign_in_expiry() -> None:
    """Note when this connection's sign-in expires (its token was checked when the socket connected)."""
    token = getattr(cl.context.session, "token", None)
    if token:
        claims = jwt.decode(token, options={"verify_signature": False})
        cl.user_session.set("signed_in_until", claims.get("exp"))


async def _signed_out() -> bool:
    """True (and the person is told) when the sign-in of this open chat has expired."""
    until = cl.user_session.get("signed_in_until")
    if until is None or time.time() < until:
        return False
    await cl.Message(content="Your sign-in has expired, so I did nothing. Reload the page and sign in again.").send()
    return True


@cl.on_chat_start
async def _chat_start() -> None:
    _remember_sign_in_expiry()
    cl.user_session.set("history", [])
    _catch_up_index()
    await _send_settings_panel()


@cl.on_chat_resume
async def _chat_resume(thread: dict[str, Any]) -> None:
    _remember_sign_in_expiry()
    cl.user_session.set("history", messages_from_steps(thread.get("steps", [])))
    _catch_up_index()
    await _send_settings_panel()


async def _attachments(message: cl.Message) -> list[Attachment]:
    found = []
    for i, element in enumerate(message.elements or [], start=1):
        if getattr(element, "path", None):
            path = Path(element.path)
            mime = await sniff_path(path) or element.mime  # an image is an image whatever its name says
            found.append(Attachment(id=f"file-{i}", name=element.name or f"file {i}", source="upload",
                                    mime=mime, path=path))
    if not found and looks_like_bill(message.content or ""):
        found.append(Attachment(id="paste-1", name="pasted bill", source="paste", text=message.content))
    return found


def _shown_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as shown in the step (a pasted bill's full text is not repeated there)."""
    return {k: (v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "…") for k, v in arguments.items()}


def _review_card(result: dict[str, Any]) -> str:
    labels = {"vendor": "From", "amount_due": "Amount due", "currency": "Currency", "due_date": "Due date",
              "issue_date": "Issued", "invoice_number": "Invoice no.", "account_number": "Account no."}
    rows = ["| Field | Read as | Sure | From the text |", "|---|---|---:|---|"]
    for name, label_ in labels.items():
        value = result["fields"].get(name)
        source = (result["sources"].get(name) or "").replace("|", "/").replace("\n", " ")[:60]
        rows.append(f"| {label_} | {value if value is not None else '—'} | "
                    f"{round(result['confidence'].get(name, 0) * 100)}% | {source} |")
    return "**Please check this bill before I save it:**\n\n" + "\n".join(rows)


async def _send_review(result: dict[str, Any], attachments: list[Attachment]) -> None:
    review_id = uuid.uuid4().hex[:12]
    reviews = cl.user_session.get("reviews") or {}
    attachment = next((a for a in attachments if a.id == result.get("attachment_id")), None)
    reviews[review_id] = {"fields": result["fields"], "attachment": attachment}
    cl.user_session.set("reviews", reviews)
    await cl.Message(content=_review_card(result), actions=[
        cl.Action(name="confirm_bill", payload={"review": review_id}, label="Confirm"),
        cl.Action(name="edit_bill", payload={"review": review_id}, label="Edit"),
    ]).send()


async def _file_reviewed(review_id: str, corrections: dict[str, Any]) -> None:
    pending = (cl.user_session.get("reviews") or {}).pop(review_id, None)
    if pending is None or pending["attachment"] is None:
        await cl.Message(content="That bill was already handled (or this chat was reloaded): send it again.").send()
        return
    fields = pending["fields"]
    args: dict[str, Any] = {"attachment_id": pending["attachment"].id, "confirmed": True,
                            "vendor": fields.get("vendor"), "amount": fields.get("amount_due"),
                            "currency": fields.get("currency"), "due_date": fields.get("due_date")}
    args.update(corrections)
    args = {k: (str(v) if k in ("amount", "due_date") and v is not None else v) for k, v in args.items() if v is not None}
    user = cl.context.session.user
    ctx = services.tool_context(user.id, [pending["attachment"]])
    step = cl.Step(name=TOOL_LABELS["add_bill"], type="tool", language="json")
    step.input = json.dumps(args, indent=2, ensure_ascii=False)
    await step.send()
    outcome = await services.registry.call(ToolCall(f"review-{review_id}", "add_bill", args), ctx)
    step.output, step.is_error = json.dumps(outcome.result, indent=2, ensure_ascii=False), outcome.is_error
    await step.update()
    await cl.Message(content=describe_filing(outcome.result, outcome.is_error)).send()


@cl.action_callback("confirm_bill")
async def _confirm_bill(action: cl.Action) -> None:
    if await _signed_out():
        return
    await action.remove()
    await _file_reviewed(action.payload["review"], {})


@cl.action_callback("edit_bill")
async def _edit_bill(action: cl.Action) -> None:
    if await _signed_out():
        return
    await action.remove()
    answer = await cl.AskUserMessage(
        content="Type the corrections, for example: `vendor City Water; amount 45.10; due 2026-12-10`",
        timeout=900).send()
    if not answer:
        await cl.Message(content="No corrections came, so nothing was saved.").send()
        return
    corrections = parse_corrections(answer["output"])
    if not corrections:
        await cl.Message(content="I couldn't read any correction there, so nothing was saved.").send()
        return
    await _file_reviewed(action.payload["review"], corrections)


async def _send_confirmation(result: dict[str, Any]) -> None:
    """A change the user's words did not ask for (tools/_confirm.py): Confirm / Cancel buttons. The
    proposal is kept in the session; the buttons carry only its id, so a client cannot change it."""
    pending_id = uuid.uuid4().hex[:12]
    pending = cl.user_session.get("confirmations") or {}
    pending[pending_id] = {"action": result["action"], "arguments": result["arguments"]}
    cl.user_session.set("confirmations", pending)
    await cl.Message(content=f"**Please confirm:** {result['summary']}", actions=[
        cl.Action(name="confirm_action", payload={"pending": pending_id}, label="Confirm"),
        cl.Action(name="cancel_action", payload={"pending": pending_id}, label="Cancel"),
    ]).send()


@cl.action_callback("confirm_action")
async def _confirm_action(action: cl.Action) -> None:
    if await _signed_out():
        return
    await action.remove()
    pending = (cl.user_session.get("confirmations") or {}).pop(action.payload.get("pending"), None)
    if pending is None:
        await cl.Message(content="That was already handled (or this chat was reloaded), so nothing was changed. "
                                 "Ask me again if you still want it.").send()
        return
    args = {**pending["arguments"], "confirmed": True}
    ctx = services.tool_context(cl.context.session.user.id)
    step = cl.Step(name=TOOL_LABELS.get(pending["action"], pending["action"]), type="tool", language="json")
    step.input = json.dumps(args, indent=2, ensure_ascii=False)
    await step.send()
    outcome = await services.registry.call(ToolCall(f"confirm-{action.payload['pending']}", pending["action"], args),
                                           ctx)
    step.output, step.is_error = json.dumps(outcome.result, indent=2, ensure_ascii=False), outcome.is_error
    await step.update()
    text = (f"I couldn't do that: {outcome.result.get('error', 'unknown error')}" if outcome.is_error
            else phrase_action(pending["action"], outcome.result) or "Done.")
    await cl.Message(content=text).send()


@cl.action_callback("cancel_action")
async def _cancel_action(action: cl.Action) -> None:
    await action.remove()
    (cl.user_session.get("confirmations") or {}).pop(action.payload.get("pending"), None)
    await cl.Message(content="OK, I left it as it was: nothing was changed.").send()


@cl.on_message
async def _on_message(message: cl.Message) -> None:
    user = cl.context.session.user
    if user is None:  # pragma: no cover - login is required by the auth callback
        await cl.Message(content="Please sign in first.").send()
        return
    if await _signed_out():
        return
    await history_layer.caught_up()  # history behind (heavy load): this turn waits, nothing is dropped
    attachments = await _attachments(message)
    text = (message.content or "").strip()
    if not text and not attachments:
        await cl.Message(content="Your message was empty. Ask me something, paste a bill, or attach one.").send()
        return
    content = with_attachment_note(text, attachments)
    history: list[Message] = cl.user_session.get("history") or []
    ctx = services.tool_context(user.id)
    ctx.turn_id = uuid.uuid4().hex
    ctx.thread_id = cl.context.session.thread_id
    reply: cl.Message | None = None
    steps: dict[str, cl.Step] = {}
    reviews: list[dict[str, Any]] = []
    views = AnswerViews()  # tables, charts, cards and links shown under the answer
    confirmations: list[dict[str, Any]] = []
    try:
        provider = cl.user_session.get("provider")  # the user's choice in the settings panel, if any
        async for event in services.agent.run_turn(history, Message("user", content, attachments=attachments), ctx,
                                                   provider):
            if isinstance(event, ToolStarted):
                shown = _shown_arguments(event.call.arguments)
                # Parented to this message's run, so the step shows above the answer, live and resumed.
                parent = cl.context.current_step
                step = cl.Step(name=TOOL_LABELS.get(event.call.name, event.call.name), type="tool", language="json",
                               parent_id=parent.id if parent else None,
                               metadata=tool_metadata(event.call, shown))
                step.input = json.dumps(shown, indent=2, ensure_ascii=False)
                await step.send()
                steps[event.call.id] = step
            elif isinstance(event, ToolFinished):
                step = steps.pop(event.call.id)
                if event.call.name == "add_bill" and event.result.get("needs_review"):
                    reviews.append(event.result)
                if not event.is_error and event.result.get("needs_confirmation"):
                    confirmations.append(event.result)
                step.output = json.dumps(event.result, indent=2, ensure_ascii=False)
                step.is_error = event.is_error
                await step.update()
                views.add(event.call.name, event.result, event.is_error)
            elif isinstance(event, TextDelta):
                if reply is None:
                    reply = cl.Message(content="")
                await reply.stream_token(event.text)
            elif isinstance(event, TurnFinished):
                if reply is None:
                    reply = cl.Message(content=event.text or "(no answer)")
                elements = views.elements()
                if event.provider == "offline":  # its tables are the grid's rows: show them once
                    reply.content = views.without_shown_tables(reply.content, elements)
                await reply.stream_token(views.links(reply.content)
                                         + footer(event.provider, event.model, event.cost, event.notices))
                reply.elements = elements
                await reply.send()
                chat_memory.lighten(elements)  # the open chat keeps the message, not its data frames
                for result in reviews:
                    await _send_review(result, attachments)
                for result in confirmations:
                    await _send_confirmation(result)
                log.info("turn", extra={"turn_id": ctx.turn_id, "provider": event.provider, "steps": event.steps,
                                        "stopped": event.stopped, "tools": [c["name"] for c in event.tool_calls]})
    except Exception:
        log.exception("turn failed", extra={"turn_id": ctx.turn_id})
        for step in steps.values():
            step.is_error = True
            step.output = "stopped by an error"
            await step.update()
        await cl.Message(content="Something went wrong on my side while answering, so I stopped. "
                                 "Anything already confirmed above was saved; nothing else was changed. "
                                 "Please try again in a moment.").send()
    finally:
        cl.user_session.set("history", history)
