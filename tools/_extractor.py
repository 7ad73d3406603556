"""Which extractor reads a bill for add_bill, and what the tool result says about it.

The model extractor runs when setting `extractor` is "auto" or "model" and the turn's provider
(`ctx.model`, budgeted) is a model, not the offline rules; "offline" always uses the rules. Only the
chain's model providers are asked (the offline provider cannot read a bill as structured output). A
photo goes along as an image when the provider reads images. When the budget refuses the call or no
model answers usably, the rules read the bill and the result says why; it always names the extractor.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from assistant.budget import BudgetExceeded
from assistant.documents.extract import Extraction, extract
from assistant.documents.model_extract import read_with_model
from assistant.documents.reader import ReadDocument
from assistant.messages import Attachment
from assistant.providers.base import Provider, ProviderError
from assistant.toolkit import ToolContext

log = logging.getLogger(__name__)

SEES_IMAGES = ("openai", "anthropic", "gemini")  # a local OpenAI-compatible model may well not


@dataclass(frozen=True)
class Reading:
    found: Extraction
    extractor: str  # "model (openai gpt-4.1-mini)", "offline", "offline (model unavailable: ...)"


def _model(ctx: ToolContext) -> Provider | None:
    """The turn's model providers (the chain without the offline one), or None."""
    model = ctx.model
    if model is None or model.name == "offline":
        return None
    if hasattr(model, "without"):
        model = model.without("offline")
    return model


def _photo(doc: ReadDocument, attachment: Attachment | None, model: Provider) -> list[Attachment]:
    if attachment is None or attachment.path is None or not doc.mime.startswith("image/"):
        return []
    if model.name not in SEES_IMAGES:
        return []
    return [dataclasses.replace(attachment, mime=doc.mime)]  # the type read from its bytes, not its name


async def read_fields(doc: ReadDocument, ctx: ToolContext, attachment: Attachment | None) -> Reading:
    """The bill's fields, by the extractor the settings and the turn's provider call for."""
    settings = ctx.settings
    offline = extract(doc.text, settings.default_currency)
    if settings.extractor == "offline":
        return Reading(offline, "offline")
    model = _model(ctx)
    if model is None:
        return Reading(offline, "offline" if settings.extractor == "auto" else "offline (no model provider)")
    images = _photo(doc, attachment, model)
    if not doc.text.strip() and not images:
        return Reading(offline, "offline (nothing the model could read: no text, and it is not sent images)")
    try:
        reading = await read_with_model(
            model, doc.text, images=images, user_id=ctx.user_id, thread_id=ctx.thread_id, turn_id=ctx.turn_id,
            today=ctx.today, default_currency=settings.default_currency, review_below=settings.review_below,
            max_output_tokens=settings.max_output_tokens, offline=offline)
    except BudgetExceeded as exc:
        log.info("model extractor refused by the budget", extra={"limit": exc.limit_name, "turn_id": ctx.turn_id})
        return Reading(offline, f"offline (model over budget: the {exc.limit_name} limit)")
    except ProviderError as exc:
        ctx.tool_cost += getattr(exc, "cost", 0)
        log.warning("model extractor failed", extra={"error": str(exc), "turn_id": ctx.turn_id})
        return Reading(offline, f"offline (model unavailable: {exc})")
    ctx.tool_cost += reading.cost
    return Reading(reading.extraction, f"model ({reading.provider} {reading.model})")
