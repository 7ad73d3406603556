"""Structured logging: JSON lines in production, readable lines in development.

Fields passed with `extra={...}` are kept. Never pass secrets or a document's text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


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
