"""The overhead the budget adds to one model call: reserve + settle, on PostgreSQL.

    .venv/bin/python benchmarks/budget_overhead.py [--calls 1000] [--workers 8] [--model-ms 50]

Creates a scratch database on the local server, pre-fills the ledger with a day of calls, then
runs `calls` model calls from `workers` concurrent workers. Each call is reserve, the model call
itself (simulated: a sleep of about `--model-ms`, as a real vendor call takes far longer), settle;
the time of reserve + settle is what is measured. `--model-ms 0` runs them back to back: a stress
test where 8 workers do nothing but budget work on this 2-core machine. Prints p50/p95/p99/max in
milliseconds, then drops the database. Target (issue 4): p95 under 5 ms with 8 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from assistant.budget import Budget  # noqa: E402
from assistant.db import create_engine, session_factory  # noqa: E402
from assistant.graph.migrate import upgrade  # noqa: E402
from assistant.graph.models import LlmUsage, User  # noqa: E402
from assistant.messages import Usage  # noqa: E402
from assistant.providers.pricing import price_for  # noqa: E402
from assistant.settings import Settings  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--history", type=int, default=20000, help="ledger rows from earlier today")
    parser.add_argument("--model-ms", type=float, default=50, help="simulated model call between reserve and settle")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import asyncpg

    name = f"bench_budget_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    try:
        await upgrade(url)
        engine = create_engine(url, pool_size=args.workers, max_overflow=0)
        sessions = session_factory(engine)
        settings = Settings(environment="test", users="", database_url=url, budget_pool_size=args.workers,
                            cost_limit_per_day=Decimal("1000000"), cost_limit_per_hour=Decimal("1000000"))
        budget = Budget(sessions, settings)
        users = [str(uuid.uuid4()) for _ in range(10)]
        now = datetime.now(UTC)
        async with sessions() as s, s.begin():
            s.add_all([User(id=u, identifier=f"bench-{u}", meta={}) for u in users])
        async with sessions() as s, s.begin():
            s.add_all([LlmUsage(owner_id=users[i % 10], turn_id=f"old-{i // 3}", provider="openai",
                                model="gpt-4.1-mini", input_tokens=1500, output_tokens=300, cost=Decimal("0.00108"),
                                reserved_cost=Decimal("0.0022"), status="settled",
                                created_at=now - timedelta(seconds=i * 3), settled_at=now)
                       for i in range(args.history)])
        price = price_for("openai", "gpt-4.1-mini")
        timings: list[float] = []
        parts: dict[str, list[float]] = {"reserve": [], "settle": []}
        rng = random.Random(1)
        queue = list(range(args.calls))

        async def worker(n: int) -> None:
            while queue:
                i = queue.pop()
                started = time.perf_counter()
                r = await budget.reserve(price=price, provider="openai", model="gpt-4.1-mini", input_tokens=1500,
                                         max_output_tokens=1024, user_id=users[i % 10], thread_id=None,
                                         turn_id=f"bench-{n}-{i // 2}")
                reserved = time.perf_counter()
                if args.model_ms:
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * args.model_ms / 1000)
                settling = time.perf_counter()
                await budget.settle(r, Usage(1400, 250, 0), price.cost(Usage(1400, 250, 0)))
                done = time.perf_counter()
                timings.append((reserved - started + done - settling) * 1000)
                parts["reserve"].append((reserved - started) * 1000)
                parts["settle"].append((done - settling) * 1000)

        wall = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(args.workers)))
        wall = time.perf_counter() - wall
        timings.sort()
        pct = lambda p: timings[min(len(timings) - 1, int(p / 100 * len(timings)))]  # noqa: E731
        print(f"budget reserve+settle on PostgreSQL: {args.calls} calls, {args.workers} workers, "
              f"{args.history} ledger rows today, simulated model call {args.model_ms:g} ms")
        print(f"  p50 {pct(50):.2f} ms   p95 {pct(95):.2f} ms   p99 {pct(99):.2f} ms   max {timings[-1]:.2f} ms   "
              f"mean {statistics.mean(timings):.2f} ms   throughput {args.calls / wall:.0f} calls/s")
        for name, values in parts.items():
            values.sort()
            print(f"  {name}: p50 {values[len(values) // 2]:.2f} ms, p95 {values[int(0.95 * len(values))]:.2f} ms")
        print(f"  target p95 < 5 ms: {'met' if pct(95) < 5 else 'NOT met'}")
        await budget.close()
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
