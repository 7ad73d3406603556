"""ai_usage: what the assistant itself has cost in model calls (not the user's bills)."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.toolkit import ToolContext, ToolError, tool


class AiUsageArgs(BaseModel):
    pass


@tool(AiUsageArgs)
async def ai_usage(args: AiUsageArgs, ctx: ToolContext) -> dict:
    """How much this user has spent on AI model calls in the last hour, today and this month, by
    provider and model, with the cost limits that apply. Use it for questions about the assistant's
    own cost, never for bills."""
    if ctx.budget is None:
        raise ToolError("usage reporting is not available here")
    return await ctx.budget.report(ctx.user_id)
