"""A provider wrapped by the budget: reserve before the call, settle after, release on failure.

What counts as spent when a call does not end normally:
- the provider failed before sending anything (refused, rate limited, bad key, unreachable, timed
  out without a byte): the reservation is released — vendors do not bill requests they refused;
- anything else (stopped by the user, cut off mid-answer, a failure after data arrived): the vendor
  may well bill it, and its usage is unknown, so the reserved amount is settled as the cost;
- a priced answer that reports no usage at all (some gateways drop it): settled at the reservation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

from assistant import metrics
from assistant.budget import Budget, BudgetExceeded, Reservation
from assistant.budget.tokens import estimate_input_tokens
from assistant.messages import Completion, CompletionRequest, TextDelta, Usage
from assistant.providers.base import Provider, ProviderError
from assistant.providers.pricing import Price

log = logging.getLogger(__name__)


class Budgeted:
    def __init__(self, inner: Provider, budget: Budget, price: Price):
        self.inner, self.budget, self.price = inner, budget, price
        self.name, self.model = inner.name, inner.model

    @property
    def _priced(self) -> bool:
        return bool(self.price.input or self.price.output or self.price.cached)

    def _reserved_usage(self, reservation: Reservation, input_tokens: int | None,
                        request: CompletionRequest) -> Usage:
        if input_tokens is None:
            input_tokens = estimate_input_tokens(request, self.name, self.model)
        return Usage(input_tokens, reservation.max_output_tokens, 0)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        # Counting tokens (tiktoken: ~1 ms for a 10-turn chat; ~10% of the server's profile in the
        # load run, where chats were longer) is only needed for a reservation: a free model's is zero
        # whatever the count, so there it is made only if a call ends without usage (`_reserved_usage`).
        input_tokens = estimate_input_tokens(request, self.name, self.model) if self._priced else None
        try:
            reservation = await self.budget.reserve(
                price=self.price, provider=self.name, model=self.model, input_tokens=input_tokens or 0,
                max_output_tokens=request.max_output_tokens,
                user_id=request.user_id, thread_id=request.thread_id, turn_id=request.turn_id)
        except BudgetExceeded as exc:
            metrics.BUDGET_REFUSALS.inc(limit=exc.limit_name)
            raise
        if reservation.capped:
            request = dataclasses.replace(request, max_output_tokens=reservation.max_output_tokens)
        done, received = False, False
        try:
            async for item in self.inner.stream(request):
                received = True
                if isinstance(item, Completion):
                    usage, cost = item.usage, item.cost
                    if self._priced and not (usage.input_tokens or usage.output_tokens):
                        log.warning("priced answer without usage; charging the reservation",
                                    extra={"provider": self.name, "model": self.model})
                        usage, cost = self._reserved_usage(reservation, input_tokens, request), reservation.reserved
                    item.cost = await asyncio.shield(self.budget.settle(reservation, usage, cost))
                    metrics.llm_call(self.name, self.model, usage.input_tokens, usage.output_tokens,
                                     usage.cached_tokens, item.cost)
                    done = True
                yield item
        except ProviderError:
            if not received:
                done = True
                await asyncio.shield(self.budget.release(reservation))
            raise
        finally:
            if not done:  # stopped, cut off or failed after data: it may be billed, usage unknown
                charged = self._reserved_usage(reservation, input_tokens, request)
                await asyncio.shield(self.budget.settle(reservation, charged, reservation.reserved))
                metrics.llm_call(self.name, self.model, charged.input_tokens, charged.output_tokens, 0,
                                 reservation.reserved)
