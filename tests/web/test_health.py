"""`/health/live`, `/health/ready` and `/metrics` on the real app (SQLite and PostgreSQL): ready when
the database, the search index and a provider are there, 503 naming what is not; metrics count turns,
documents and budget refusals, in the Prometheus text format, without sign-in and without user data."""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer, free_port, start_server
from tests.factories import bill_text
from tests.web.chat_client import ChatClient
from tests.web.conftest import USERS


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_ready_and_metrics_after_a_turn(live_server: LiveServer):
    server = live_server
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/health/live")).json() == {"status": "live"}
        ready = await http.get("/health/ready")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready" and body["checks"]["database"] == {"ok": True}
        assert body["checks"]["search_index"] == {"ok": True} and "offline" in body["checks"]["providers"]["offered"]
        before = (await http.get("/metrics")).text
        async with ChatClient(server.url, "alice", USERS["alice"]) as chat:
            turn = await chat.send(bill_text("Pacific Power", "120.50"))
            assert "Filed a bill" in turn.text
        after = await http.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = after.text
    assert "# TYPE assistant_turns_total counter" in text and "# TYPE assistant_turn_seconds histogram" in text
    turns = metric(text, "assistant_turns_total", provider="offline", stopped="none")
    assert turns == metric(before, "assistant_turns_total", provider="offline", stopped="none") + 1
    assert metric(text, "assistant_turn_seconds_count", provider="offline") >= 1
    assert metric(text, "assistant_documents_ingested_total", type="text/plain") >= 1
    assert "Pacific Power" not in text and "alice" not in text  # counts only, no user data
    for line in text.splitlines():  # every sample line is well formed
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{[^}]*\})? [0-9.e+-]+', line), line


def test_not_ready_names_the_search_index_when_chroma_is_down(tmp_path):
    data = tmp_path / "data"
    dead = f"http://127.0.0.1:{free_port()}"
    server = start_server(data, f"sqlite+aiosqlite:///{data / 'assistant.db'}", extra_env={"CHROMA_URL": dead})
    try:
        ready = httpx.get(server.url + "/health/ready", timeout=30)
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks["database"] == {"ok": True} and checks["search_index"]["ok"] is False
        assert httpx.get(server.url + "/health/live").status_code == 200
    finally:
        server.stop()
