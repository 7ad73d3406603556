"""Keeping the search index in step with the filed documents.

A bill is filed whether or not the search index (Chroma) can be reached: search is a convenience,
the bill is not. Each document records when its text was indexed (`documents.indexed_at`); one
filed while the index was down stays NULL and is indexed by a catch-up:

- after every bill that is indexed, the same user's pending documents are indexed too;
- before every search (so "find my power bill" finds the bill filed during the outage);
- when a chat starts (in the background), and by `assistant reindex` (every user; `--all` redoes
  every document, e.g. after restoring a backup without its index).

A catch-up stops at the first failure (the index is still down) and leaves the rest for next time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from assistant.graph import bills

log = logging.getLogger(__name__)


async def index_document(index: Any, sessions: Any, owner_id: str, document_id: int, vendor: str | None,
                         text: str) -> bool:
    """Index one document and record it; False (logged, not raised) when the index cannot be reached."""
    try:
        await index.add(owner_id, document_id, vendor, text)
    except Exception as exc:
        log.warning("document not indexed (will retry)", extra={"document_id": document_id,
                                                                "error": type(exc).__name__})
        return False
    async with sessions() as session, session.begin():
        await bills.mark_indexed(session, owner_id, document_id, datetime.now(UTC))
    return True


async def index_pending(index: Any, sessions: Any, owner_id: str | None = None, limit: int = 50) -> int:
    """Index up to `limit` documents not yet in the index (one user's, or everyone's when
    `owner_id` is None). Returns how many were indexed."""
    if index is None:
        return 0
    async with sessions() as session:
        pending = await bills.documents_to_index(session, owner_id, limit)
    done = 0
    for document_id, owner, vendor, text in pending:
        if not await index_document(index, sessions, owner, document_id, vendor, text or ""):
            break
        done += 1
    if pending:
        log.info("search index caught up", extra={"indexed": done, "pending": len(pending)})
    return done


async def reset_index_marks(sessions: Any) -> None:
    """Mark every document as not indexed (`assistant reindex --all`)."""
    from sqlalchemy import update

    from assistant.graph.models import Document

    async with sessions() as session, session.begin():
        await session.execute(update(Document).values(indexed_at=None))
