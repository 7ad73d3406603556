"""The usage ledger: one row per model call, and the sums the budget checks against its limits.

A row's *charge* is what it counts against a limit now: its settled cost, or, while it is only
reserved and its reservation has not expired, the reserved amount. Expiry is how the reservations
of a crashed process stop counting. Settled costs are also kept as running totals in
`budget_counter` (per scope, per UTC minute and per local day), written in the settling
transaction, so a reservation reads a few counter rows instead of summing the day's ledger; live
reservations are few (the calls in flight) and are summed from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.graph.models import BudgetCounter, BudgetLock, LlmUsage



def _charge(now: datetime):
    return case(
        (LlmUsage.status == "settled", LlmUsage.cost),
        (and_(LlmUsage.status == "reserved", LlmUsage.expires_at > now), LlmUsage.reserved_cost),
        else_=0,
    )


async def lock(session: AsyncSession) -> None:
    """Take the budget lock for the rest of the transaction (a row lock on PostgreSQL; on SQLite the
    first write of the transaction takes the database's write lock, so the sums read next are current)."""
    await session.execute(update(BudgetLock).where(BudgetLock.id == 1).values(version=BudgetLock.version + 1))


@dataclass
class Spend:
    turn: Decimal
    hour_all: Decimal
    hour_user: Decimal
    day_all: Decimal
    day_user: Decimal


@dataclass(frozen=True)
class Buckets:
    """Where a call's charge is counted: its UTC minute (rolling hour) and its local day."""

    minute: str  # "m:2026-11-21T22:05"
    day: str  # "d:2026-11-21"


def _scopes(user_id: str | None) -> list[str]:
    return ["all"] + ([f"user:{user_id}"] if user_id else [])


def _upsert(session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


async def add_to_counters(session: AsyncSession, user_id: str | None, buckets: Buckets, delta: Decimal) -> None:
    if not delta:
        return
    insert = _upsert(session)
    rows = [{"scope": scope, "bucket": bucket, "amount": delta}
            for scope in _scopes(user_id) for bucket in (buckets.minute, buckets.day)]
    stmt = insert(BudgetCounter).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=["scope", "bucket"],
                                      set_={"amount": BudgetCounter.amount + stmt.excluded.amount})
    await session.execute(stmt)


async def spend(session: AsyncSession, *, user_id: str | None, turn_id: str | None, now: datetime,
                hour_from: str, day: str) -> Spend:
    """The charge counted now, in one round trip: settled costs from the counters (minute buckets
    from `hour_from` on for the rolling hour, the day's bucket), plus every live reservation (calls in
    flight are recent, so they count in every window), plus this turn's calls from the ledger."""
    def counter(scope: str, lower: str, upper: str):
        return (select(func.coalesce(func.sum(BudgetCounter.amount), 0))
                .where(BudgetCounter.scope == scope, BudgetCounter.bucket >= lower, BudgetCounter.bucket < upper)
                .scalar_subquery())

    def live(mine: bool):
        stmt = select(func.coalesce(func.sum(LlmUsage.reserved_cost), 0)).where(
            LlmUsage.status == "reserved", LlmUsage.expires_at > now)
        return (stmt.where(LlmUsage.owner_id == user_id) if mine else stmt).scalar_subquery()

    user_scope = f"user:{user_id}" if user_id else "user:-"
    turn = (select(func.coalesce(func.sum(_charge(now)), 0)).where(LlmUsage.turn_id == (turn_id or ""))
            .scalar_subquery())
    row = (await session.execute(select(
        turn, live(False), live(True),
        counter("all", hour_from, "m;"), counter(user_scope, hour_from, "m;"),
        counter("all", day, day + "~"), counter(user_scope, day, day + "~"),
    ))).one()
    turn, live_all, live_user, hour_all, hour_user, day_all, day_user = (Decimal(str(v)) for v in row)
    return Spend(turn, hour_all + live_all, hour_user + live_user, day_all + live_all, day_user + live_user)


async def mark_expired(session: AsyncSession, now: datetime) -> None:
    """Reservations a crashed process never settled: they already stopped counting; say so in the ledger."""
    await session.execute(update(LlmUsage).where(LlmUsage.status == "reserved", LlmUsage.expires_at <= now)
                          .values(status="expired", settled_at=now))


async def insert_call(session: AsyncSession, **fields) -> int:
    row = LlmUsage(**fields)
    session.add(row)
    await session.flush()
    return row.id


async def settle(session: AsyncSession, call_id: int, *, input_tokens: int, output_tokens: int,
                 cached_tokens: int, cost: Decimal, now: datetime) -> None:
    await session.execute(update(LlmUsage).where(LlmUsage.id == call_id).values(
        status="settled", input_tokens=input_tokens, output_tokens=output_tokens, cached_tokens=cached_tokens,
        cost=cost, settled_at=now))


async def release(session: AsyncSession, call_id: int, now: datetime) -> bool:
    result = await session.execute(update(LlmUsage).where(LlmUsage.id == call_id, LlmUsage.status == "reserved")
                                   .values(status="released", settled_at=now))
    return bool(result.rowcount)


async def prune_counters(session: AsyncSession, before_minute: str) -> None:
    """Minute buckets older than any rolling hour are not needed any more."""
    await session.execute(delete(BudgetCounter).where(BudgetCounter.bucket >= "m:",
                                                      BudgetCounter.bucket < before_minute))


async def oldest_charged_since(session: AsyncSession, since: datetime, now: datetime,
                               user_id: str | None) -> datetime | None:
    """When the oldest call still counting in a rolling window was made (to say when room frees up)."""
    stmt = select(func.min(LlmUsage.created_at)).where(LlmUsage.created_at >= since, _charge(now) > 0)
    if user_id is not None:
        stmt = stmt.where(LlmUsage.owner_id == user_id)
    return await session.scalar(stmt)


@dataclass
class UsageRow:
    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: Decimal


async def usage_by_model(session: AsyncSession, *, since: datetime, now: datetime,
                         user_id: str | None) -> list[UsageRow]:
    """Settled (and live reserved) spend since `since`, by provider and model."""
    stmt = (select(LlmUsage.provider, LlmUsage.model, func.count(), func.coalesce(func.sum(LlmUsage.input_tokens), 0),
                   func.coalesce(func.sum(LlmUsage.output_tokens), 0), func.coalesce(func.sum(LlmUsage.cached_tokens), 0),
                   func.coalesce(func.sum(_charge(now)), 0))
            .where(LlmUsage.created_at >= since, LlmUsage.status.in_(("settled", "reserved")))
            .group_by(LlmUsage.provider, LlmUsage.model).order_by(LlmUsage.provider, LlmUsage.model))
    if user_id is not None:
        stmt = stmt.where(LlmUsage.owner_id == user_id)
    return [UsageRow(p, m, int(n), int(i), int(o), int(c), Decimal(str(cost)))
            for p, m, n, i, o, c, cost in (await session.execute(stmt)).all()]
