"""The fallback chain: the one retry loop in charge.

Each provider is tried in order. A retryable failure (429, 5xx, timeout, connection) before any
text was shown is retried with exponential backoff and full jitter, up to `max_retries` times;
then the next provider takes over. A failure retrying cannot fix (bad key, bad request, unreadable
answer) moves on at once. The answer says who answered when it was not the first choice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator

from assistant.messages import Completion, CompletionRequest, TextDelta
from assistant.providers.base import Provider, ProviderError

log = logging.getLogger(__name__)

LABELS = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini",
          "openai-compatible": "the OpenAI-compatible server", "offline": "the offline assistant"}


def label(provider: Provider) -> str:
    return LABELS.get(provider.name, provider.name)


class FallbackChain:
    def __init__(self, providers: list[Provider], max_retries: int = 2, backoff_s: float = 0.5,
                 sleep=asyncio.sleep):
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = providers
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.providers[0].name

    @property
    def model(self) -> str:
        return self.providers[0].model

    def starting_at(self, name: str) -> FallbackChain:
        """The rest of the chain from provider `name`: a turn that fell back stays with who answered."""
        names = [p.name for p in self.providers]
        if name not in names or names.index(name) == 0:
            return self
        return FallbackChain(self.providers[names.index(name):], self.max_retries, self.backoff_s, self._sleep)

    def without(self, name: str) -> FallbackChain | None:
        """The chain with provider `name` left out (e.g. "offline" for a call only a model can answer),
        or None when nothing is left."""
        kept = [p for p in self.providers if p.name != name]
        if not kept:
            return None
        return self if len(kept) == len(self.providers) else FallbackChain(kept, self.max_retries, self.backoff_s,
                                                                            self._sleep)

    def _delay(self, attempt: int) -> float:
        return random.uniform(0, self.backoff_s * (2 ** attempt))  # full jitter

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        problems: list[str] = []
        for provider in self.providers:
            for attempt in range(self.max_retries + 1):
                shown = False
                try:
                    async for item in provider.stream(request):
                        if isinstance(item, TextDelta):
                            shown = True
                            yield item
                        else:
                            item.provider, item.model = provider.name, provider.model
                            log.info("provider call", extra={
                                "provider": provider.name, "model": provider.model, "attempt": attempt + 1,
                                "input_tokens": item.usage.input_tokens, "output_tokens": item.usage.output_tokens,
                                "tool_calls": len(item.tool_calls), "stop": item.finish_reason})
                            if problems:
                                item.notice = f"{'; '.join(problems)}; answered by {label(provider)}."
                            yield item
                    return
                except ProviderError as exc:
                    log.warning("provider call failed", extra={
                        "provider": provider.name, "model": provider.model, "status": exc.status,
                        "error": str(exc), "attempt": attempt + 1, "retryable": exc.retryable})
                    if shown:  # text is already on the screen: another provider cannot take it back
                        raise ProviderError(f"{label(provider)} stopped in the middle of its answer: {exc}") from None
                    if exc.retryable and attempt < self.max_retries:
                        await self._sleep(self._delay(attempt))
                        continue
                    tries = f" after {attempt + 1} tries" if attempt else ""
                    who = label(provider)
                    problems.append(f"{who[0].upper()}{who[1:]} {exc}{tries}")
                    break
        raise ProviderError("no model provider could answer: " + "; ".join(problems))
