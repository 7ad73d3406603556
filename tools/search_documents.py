"""search_documents: find the user's filed bills by meaning ("the power bill", "internet invoice")."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.documents.catchup import index_pending
from assistant.toolkit import ToolContext, ToolError, tool


class SearchDocumentsArgs(BaseModel):
    query: str = Field(..., min_length=1, max_length=500, description="what to look for, in plain words")
    limit: int = Field(5, ge=1, le=20)


@tool(SearchDocumentsArgs)
async def search_documents(args: SearchDocumentsArgs, ctx: ToolContext) -> dict:
    """Search the text of the user's filed bills by meaning. Each hit has the document id (its original
    downloads at /documents/<id>), the vendor and the best matching snippet."""
    if ctx.index is None:
        raise ToolError("document search is not available here")
    # bills filed while the index was down (it logs, not raises, when the index is still down)
    await index_pending(ctx.index, ctx.sessions, ctx.user_id)
    try:
        hits = await ctx.index.search(ctx.user_id, args.query, args.limit)
    except Exception as exc:
        raise ToolError("document search is unavailable right now (the search index could not be reached); "
                        "your bills are safe and can still be listed by vendor or date") from exc
    return {"query": args.query, "hits": [{**h, "url": f"/documents/{h['document_id']}"} for h in hits]}
