"""A separate process running turns against the configured provider (for the multi-process budget test).

    python -m tests.budget_worker N USER...   (settings from the environment)
Prints one JSON line per turn: {"stopped": ..., "cost": "..."}.
"""

from __future__ import annotations

import asyncio
import json
import sys

from assistant.messages import Message
from assistant.service import build_services
from assistant.settings import Settings


async def main(turns: int, users: list[str]) -> None:
    services = build_services(Settings())
    try:
        async def one(i: int) -> None:
            ctx = services.tool_context(await services.user_id(users[i % len(users)]))
            events = [e async for e in services.agent.run_turn([], Message("user", "who do I pay?"), ctx)]
            print(json.dumps({"stopped": events[-1].stopped, "cost": str(events[-1].cost),
                              "text": events[-1].text[:300]}), flush=True)

        await asyncio.gather(*(one(i) for i in range(turns)))
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2:]))
