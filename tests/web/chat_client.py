"""A browser-free Chainlit client: sign in over HTTP, chat over socket.io, as the web UI does.

Protocol (chainlit 2.12, read from the installed `socket.py`, `emitter.py`, `server.py`):

- `POST /login` (form `username`, `password`) sets the `access_token` cookie. The socket.io
  handshake authenticates with that cookie only (`socket._get_token` reads `HTTP_COOKIE`), so the
  cookie is sent as a header on connect; HTTP routes accept it too.
- socket.io lives at `/ws/socket.io`; the auth payload names the session
  (`sessionId`, `clientType`, `threadId`, `userEnv`). A `threadId` resumes that thread.
- After connecting the client emits `connection_successful`; the server answers `task_end`
  (and, when resuming, `first_interaction` + `resume_thread`, or `resume_thread_error`).
- Files are uploaded with `POST /project/file?session_id=S` (multipart `file`), which needs the
  socket session to exist, and are referenced in `client_message` as `fileReferences`.
- A turn: `client_message` -> `task_start`, then `new_message` / `update_message` (steps and
  messages, by id), `stream_start` + `stream_token` (streamed messages), `element` (attachments),
  `first_interaction` (first message of a thread: carries the thread id) ... and `task_end`,
  emitted in `process_message`'s `finally`, even when the turn failed. The handler itself runs as
  a step (`type: "run"`, `name: "on_message"`, `parentId`: the user message), updated when it
  returns; `on_chat_start` is another such task, with its own `task_start`/`task_end`, that can
  overlap the first turn. So the end of a turn is the first `task_end` after the `on_message`
  step of that message was closed (an error message, if any, comes between the two).
- History is written by background tasks: rows may land after the turn's last event.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio


class ChatError(AssertionError):
    pass


@dataclass
class Turn:
    """What the server sent during one turn, in order, and the steps it built."""

    events: list[tuple[str, Any]]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest state of each step, by id
    order: list[str] = field(default_factory=list)  # step ids in the order first seen
    elements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [self.steps[i] for i in self.order if self.steps[i].get("type") == "assistant_message"]

    @property
    def texts(self) -> list[str]:
        """The assistant's final message texts in this turn."""
        return [m.get("output") or "" for m in self.messages]

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)

    @property
    def tool_steps(self) -> list[dict[str, Any]]:
        return [self.steps[i] for i in self.order if self.steps[i].get("type") == "tool"]

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


class ChatClient:
    """One signed-in browser tab. Use as `async with ChatClient(url, "alice", "pw") as chat:`."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        self.sio: socketio.AsyncClient | None = None
        self.session_id: str | None = None
        self.thread_id: str | None = None
        self.events: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> ChatClient:
        await self.login()
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- HTTP ---

    @property
    def token(self) -> str | None:
        return self.http.cookies.get("access_token")

    async def login(self) -> None:
        r = await self.http.post("/login", data={"username": self.username, "password": self.password})
        if r.status_code != 200 or not self.token:
            raise ChatError(f"sign-in as {self.username} failed: {r.status_code} {r.text[:200]}")

    async def upload(self, name: str, data: bytes, mime: str = "application/octet-stream") -> dict[str, Any]:
        """Upload a file into the current session; returns the file reference (`{"id": ...}`)."""
        r = await self.upload_response(name, data, mime)
        if r.status_code != 200:
            raise ChatError(f"upload of {name} failed: {r.status_code} {r.text[:200]}")
        return r.json()

    async def upload_response(self, name: str, data: bytes, mime: str = "application/octet-stream") -> httpx.Response:
        assert self.session_id, "connect first: uploads belong to a socket session"
        return await self.http.post("/project/file", params={"session_id": self.session_id},
                                    files={"file": (name, data, mime)})

    async def threads(self, first: int = 20) -> list[dict[str, Any]]:
        r = await self.http.post("/project/threads", json={"pagination": {"first": first, "cursor": None},
                                                           "filter": {}})
        r.raise_for_status()
        return r.json()["data"]

    async def thread(self, thread_id: str) -> httpx.Response:
        return await self.http.get(f"/project/thread/{thread_id}")

    # --- socket.io ---

    async def connect(self, thread_id: str | None = None) -> Turn:
        """Open a new session (a new tab); with `thread_id`, resume that thread.

        Returns the events of the connection (for a resume: `resume_thread` with the thread)."""
        await self.disconnect()
        self.session_id = str(uuid.uuid4())
        self.thread_id = thread_id
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("*")
        async def _any(event: str, *args: Any) -> None:
            # No await before the append: handlers start in arrival order, so events stay in order.
            self._record(event, args[0] if args else None)

        auth = {"sessionId": self.session_id, "clientType": "webapp", "threadId": thread_id,
                "userEnv": json.dumps({}), "chatProfile": None}
        await sio.connect(self.base_url, socketio_path="/ws/socket.io", transports=["websocket"],
                          auth=auth, headers={"Cookie": f"access_token={self.token}"},
                          wait_timeout=self.timeout)
        self.sio = sio
        mark = len(self.events)
        await sio.emit("connection_successful")
        if thread_id:
            await self._wait_for(mark, lambda names: "resume_thread" in names or "resume_thread_error" in names)
        else:
            await self._wait_for(mark, lambda names: "task_end" in names)
        return self._turn(mark)

    async def send(self, text: str, files: list[dict[str, Any]] | None = None) -> Turn:
        """Send a user message (with uploaded file references) and wait for the end of the turn."""
        assert self.sio is not None, "connect first"
        mark = len(self.events)
        message = {"id": str(uuid.uuid4()), "type": "user_message", "output": text, "name": self.username,
                   "threadId": self.thread_id or "", "createdAt": ""}
        payload: dict[str, Any] = {"message": message}
        if files:
            payload["fileReferences"] = [{"id": f["id"]} for f in files]
        await self.sio.emit("client_message", payload)

        def over(names: list[str]) -> bool:
            # `task_end` alone is ambiguous: `on_chat_start` runs as a task of its own, with its own
            # task_start/task_end, concurrently with the first message. The turn's own end is the
            # `task_end` after the `on_message` run step (child of our message) was closed.
            closed = [i for i, (name, data) in enumerate(self.events[mark:])
                      if name == "update_message" and isinstance(data, dict) and data.get("type") == "run"
                      and data.get("name") == "on_message" and data.get("parentId") == message["id"]]
            return bool(closed) and "task_end" in names[closed[0]:]

        await self._wait_for(mark, over)
        turn = self._turn(mark)
        if "new_message" not in turn.names() and "stream_start" not in turn.names():
            raise ChatError(f"the turn ended without any message: {turn.names()}")
        return turn

    async def event(self, name: str) -> Any:
        """The data of the first event `name` of this client, waiting for it if need be
        (e.g. `chat_settings`, sent by `on_chat_start`, which runs after the connection's `task_end`)."""
        await self._wait_for(0, lambda names: name in names)
        return next(data for n, data in self.events if n == name)

    async def event_matching(self, predicate) -> Any:
        """The data of the first event for which `predicate(name, data)` holds, waiting for it if need be."""
        def found(_names) -> bool:
            return any(predicate(n, d) for n, d in self.events)

        await self._wait_for(0, found)
        return next(d for n, d in self.events if predicate(n, d))

    async def change_settings(self, values: dict[str, Any]) -> Turn:
        """Submit the chat settings panel; returns once the app has answered with a message."""
        assert self.sio is not None, "connect first"
        mark = len(self.events)
        await self.sio.emit("chat_settings_change", values)
        await self._wait_for(mark, lambda names: "new_message" in names)
        return self._turn(mark)

    async def disconnect(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()
            self.sio = None

    async def close(self) -> None:
        await self.disconnect()
        await self.http.aclose()

    # --- internals ---

    def _record(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        # The thread id: `first_interaction` carries it, but that comes from a background task that
        # writes the thread first, and may arrive after the turn ended; every step carries it too.
        if isinstance(data, dict) and not self.thread_id:
            self.thread_id = data.get("thread_id") or data.get("threadId") or None
        self._arrived.set()

    async def _wait_for(self, mark: int, done) -> None:
        async def wait() -> None:
            while not done([n for n, _ in self.events[mark:]]):
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(wait(), self.timeout)
        except TimeoutError:
            raise ChatError(f"timed out; events so far: {[n for n, _ in self.events[mark:]]}") from None

    def _turn(self, mark: int) -> Turn:
        turn = Turn(events=list(self.events[mark:]))
        streamed: dict[str, str] = {}
        for name, data in turn.events:
            if name in ("new_message", "update_message", "stream_start") and isinstance(data, dict):
                if data["id"] not in turn.steps:
                    turn.order.append(data["id"])
                turn.steps[data["id"]] = {**turn.steps.get(data["id"], {}), **data}
                if name == "stream_start":
                    streamed[data["id"]] = data.get("output") or ""
                else:
                    streamed.pop(data["id"], None)
            elif name == "stream_token" and isinstance(data, dict) and not data.get("isInput"):
                before = "" if data.get("isSequence") else streamed.get(data["id"], "")
                streamed[data["id"]] = before + data["token"]
            elif name == "delete_message" and isinstance(data, dict):
                turn.steps.pop(data["id"], None)
                turn.order = [i for i in turn.order if i != data["id"]]
            elif name == "element" and isinstance(data, dict):
                turn.elements.append(data)
        for step_id, text in streamed.items():  # streamed but never sent: keep what arrived
            if step_id in turn.steps:
                turn.steps[step_id]["output"] = text
        return turn
