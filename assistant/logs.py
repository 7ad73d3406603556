"""Structured logging: JSON lines in production, readable lines in development.

Fields passed with `extra={...}` are kept. Never pass secrets or a document's text.

Every line logged while a turn runs carries that turn's `request_id` (the turn id): the agent sets
`request_id` for the turn, and tools, provider calls, database retries and threads started with
`asyncio.to_thread` inherit it through the context, so `grep <id>` gives one turn's whole story. The
same id goes to the model vendor as the `X-Client-Request-Id` header (OpenAI's name for it; the
others ignore a header they do not know, and a proxy or the fake vendors in the tests see it).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_HEADER = "X-Client-Request-Id"


class RequestIdFilter(logging.Filter):
    """Adds the running turn's `request_id` to every record logged in its context."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


def request_headers(turn_id: str | None) -> dict[str, str]:
    """The header that carries a turn's id to a model vendor (none outside a turn)."""
    return {REQUEST_HEADER: turn_id} if turn_id else {}


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ReadableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{datetime.fromtimestamp(record.created):%H:%M:%S} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


def configure(environment: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if environment == "production" else ReadableFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Libraries that log what passes through them at DEBUG (SQL parameters: a bill's text; request
    # bodies: a prompt, headers): never below INFO, whatever LOG_LEVEL says.
    for talkative in ("aiosqlite", "sqlalchemy", "asyncpg", "openai", "anthropic", "google_genai", "google",
                      "urllib3", "chromadb", "chainlit", "engineio", "socketio", "uvicorn", "watchfiles",
                      "multipart", "python_multipart", "PIL", "pypdf", "rapidocr_onnxruntime"):
        if logging.getLogger(talkative).getEffectiveLevel() < logging.INFO:
            logging.getLogger(talkative).setLevel(logging.INFO)
