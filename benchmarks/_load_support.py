"""Pieces of the chat load benchmark (`benchmarks/load_chat.py`): what a household says, what one turn
left behind, latency percentiles, the server's memory over the run, and the count of saved history.

Kept apart from the script so each piece reads on its own; nothing here talks to the server except
`count_history`, which reads the database on a connection of its own (tests/web/conftest.py `query`).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psutil

from tests.factories import bill_text
from tests.web.chat_client import Turn
from tests.web.conftest import query

# Vendors a household pays: those of the question scenarios (tests/scenarios/questions/*.yaml), so
# that "my power bill", "the water bill", "my internet bill" find the bills the sessions pasted.
VENDORS = ["Pacific Power", "City Water", "Harbor Gas Co", "FastLink Broadband", "Summit Mobile",
           "Greenleaf Insurance", "Maple Property Management", "Oakwood Dental"]

# Questions the offline provider answers with a tool (see tests/scenarios/questions/*.yaml): lookups,
# totals, what's next, and changes ("mark ... paid", which needs no confirmation: the words ask for it).
QUESTIONS = [
    "what do I owe this month",
    "when is my power bill due",
    "how much did I spend on utilities",
    "mark the water bill paid",
    "find my internet bill",
    "what's due this week?",
    "anything overdue?",
    "what's coming up?",
    "what should I pay first?",
    "who do I pay?",
    "how much did I pay Pacific Power this year?",
    "how much did I spend on utilities this year?",
    "and next week?",
]

PASTE_SHARE = 0.3  # of the turns after the first, which always pastes a bill so questions find some


def username(i: int) -> str:
    return f"user{i:02d}"


def password(i: int) -> str:
    return f"pw-{username(i)}"


class Talk:
    """What one user says, turn after turn: a pasted bill first, then mostly questions.

    Bills come from tests/factories.py `bill_text` with a varied vendor, amount, due date and invoice
    number (so they are distinct bills, not duplicates); `rng` makes a run repeatable."""

    def __init__(self, rng: random.Random, today: date | None = None, paste_share: float = PASTE_SHARE):
        self.rng = rng
        self.paste_share = paste_share
        self.today = today or date.today()
        self.turns = 0

    def next(self) -> tuple[str, str]:
        """`(kind, text)`: kind is "paste" or the question itself."""
        self.turns += 1
        if self.turns == 1 or self.rng.random() < self.paste_share:
            return "paste", self.bill()
        question = self.rng.choice(QUESTIONS)
        return question, question

    def bill(self) -> str:
        amount = Decimal(self.rng.randint(1500, 40000)) / 100
        due = self.today + timedelta(days=self.rng.randint(-10, 45))
        return bill_text(vendor=self.rng.choice(VENDORS), amount=f"{amount:.2f}", due=due,
                         invoice=f"INV-{self.rng.randint(10000, 99999)}")


# Replies that mean the turn failed: assistant/web/app.py when the handler raised, assistant/agent.py
# when the database could not be reached. (Chainlit's own `ErrorMessage` is flagged `isError`.)
ERROR_REPLIES = ("Something went wrong on my side", "The database is not reachable")


@dataclass
class TurnResult:
    session: int
    kind: str
    started: float  # seconds since the load began
    latency: float | None  # seconds from sending to the turn's end; None when it never ended
    error: str | None = None
    steps: dict[str, int] = field(default_factory=dict)  # step id -> length of the output the client saw
    elements: set[str] = field(default_factory=set)
    tool_errors: int = 0  # tool steps marked as errors (e.g. "no such bill"): answers, not failures


def turn_result(session: int, kind: str, started: float, latency: float, text: str, turn: Turn) -> TurnResult:
    """What a finished turn left to be saved, and whether its reply was an error.

    Every step the client saw created (the run step, tool steps, the answer, review or confirmation
    messages) must be in the `steps` table, and so must the user's own message, which the server
    never echoes back: its id is the run step's parent."""
    result = TurnResult(session, kind, started, latency)
    for step_id in turn.order:
        step = turn.steps[step_id]
        result.steps[step_id] = len(step.get("output") or "")
        if step.get("type") == "run" and step.get("name") == "on_message" and step.get("parentId"):
            result.steps[step["parentId"]] = len(text)
    result.elements = {e["id"] for e in turn.elements if e.get("id")}
    result.tool_errors = sum(1 for s in turn.tool_steps if s.get("isError"))
    failed = [m for m in turn.messages if m.get("isError") or (m.get("output") or "").startswith(ERROR_REPLIES)]
    if failed:
        result.error = "error reply: " + (failed[0].get("output") or "")[:120]
    elif not turn.messages:
        result.error = "no reply: the turn ended without an assistant message"
    return result


def steps_outside(events: list[tuple[str, Any]], known: dict[str, int]) -> dict[str, int]:
    """Steps a session's client saw created outside the turns it recorded: `on_chat_start`'s run
    step (it runs after the connection's `task_end`, before or during the first turn) and those of
    turns that timed out. They are saved like any other; id -> output length, as in `TurnResult`."""
    found: dict[str, int] = {}
    for name, data in events:
        if name not in ("new_message", "stream_start", "update_message") or not isinstance(data, dict) \
                or data["id"] in known:
            continue
        if name != "update_message" or data["id"] in found:
            found[data["id"]] = len(data.get("output") or "")
        if data.get("type") == "run" and data.get("name") == "on_message" and data.get("parentId") not in known:
            found.setdefault(data["parentId"], 0)  # the user's own message (its text: not known here)
    for name, data in events:
        if name == "delete_message" and isinstance(data, dict):
            found.pop(data["id"], None)
    return found


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (the value below which p% of the turns finished)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


class MemorySampler:
    """RSS of the server process (and any children) every `interval` s, in a thread of its own, so a
    busy client event loop does not delay the samples. Also the server's CPU time over the run."""

    def __init__(self, pid: int, interval: float = 1.0):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system + times.children_user + times.children_system

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.rss()))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, start: float, warm: float, end: float, span: float = 10.0) -> dict[str, Any]:
        """Memory before the load (`start`), after warm-up (`warm`), at its peak and when the load
        ended (`end`); the trend is a least-squares slope over the samples from warm-up to the end,
        in MB per minute, and `series` one sample every ~5 s of the run.

        "After warm-up" and "end" are the mean of the samples over `span` s (the first `span` s after
        warm-up, the last `span` s of the load), not one sample: the server gives freed memory back to
        the OS every HEAP_TRIM_INTERVAL (10) s, so its RSS is a saw-tooth a few MB high, and one sample
        said more about where in a tooth it fell than about the level."""
        mb = 1024 * 1024

        def at(t: float) -> float:
            before = [rss for ts, rss in self.samples if ts <= t]
            return (before[-1] if before else self.samples[0][1]) / mb

        def mean(t0: float, t1: float) -> float:
            inside = [rss for ts, rss in self.samples if t0 <= ts <= t1]
            return sum(inside) / len(inside) / mb if inside else at(t1)

        run = [(ts, rss / mb) for ts, rss in self.samples if start <= ts <= end]
        steady = [(ts, v) for ts, v in run if ts >= warm]
        slope = None
        if len(steady) >= 3:
            mt = sum(t for t, _ in steady) / len(steady)
            mv = sum(v for _, v in steady) / len(steady)
            den = sum((t - mt) ** 2 for t, _ in steady)
            slope = sum((t - mt) * (v - mv) for t, v in steady) / den * 60 if den else 0.0
        series, next_t = [], start
        for ts, v in run:
            if ts >= next_t:
                series.append([round(ts - start), round(v, 1)])
                next_t = ts + 5
        start_mb, warm_mb, end_mb = at(start), mean(warm, min(warm + span, end)), mean(max(end - span, warm), end)
        return {"start_mb": round(start_mb, 1), "after_warmup_mb": round(warm_mb, 1),
                "peak_mb": round(max((v for _, v in run), default=start_mb), 1), "end_mb": round(end_mb, 1),
                "growth_after_warmup_mb": round(end_mb - warm_mb, 1),
                "trend_mb_per_min": None if slope is None else round(slope, 2), "series": series}


async def count_history(database_url: str, steps: dict[str, int], threads: dict[str, str],
                        elements: set[str], settle: float = 60.0) -> dict[str, Any]:
    """Compare, by id, what the turns emitted with what Chainlit's data layer wrote.

    History is written by background tasks after a turn's last event, so this polls until every
    expected row is there, or the counts stopped changing for 5 s, or `settle` s passed.
    `steps`: id -> output length the client saw (a row saved with an empty output where the client saw
    one is "incomplete": an update lost to its own creation); `threads`: id -> owner's identifier."""
    began = time.monotonic()
    deadline = began + settle
    last, unchanged_since, polls = None, time.monotonic(), 0
    while True:
        polls += 1
        step_rows = await query(database_url, 'SELECT id, "threadId" AS thread, type, name, '
                                              "length(coalesce(output, '')) AS n FROM steps")
        saved = {str(r["id"]): r["n"] for r in step_rows}
        thread_rows = await query(database_url, 'SELECT id, "userIdentifier" AS who FROM threads')
        owners = {str(r["id"]): r["who"] for r in thread_rows}
        element_ids = {str(r["id"]) for r in await query(database_url, "SELECT id FROM elements")}

        missing = [i for i in steps if i not in saved]
        incomplete = [i for i, n in steps.items() if i in saved and n > 0 and saved[i] == 0]
        missing_threads = [t for t in threads if t not in owners]
        wrong_owner = [t for t, who in threads.items() if t in owners and owners[t] != who]
        missing_elements = [e for e in elements if e not in element_ids]
        state = (len(missing), len(incomplete), len(missing_threads), len(missing_elements))
        now = time.monotonic()
        if state != last:
            last, unchanged_since = state, now
        if not any(state) or now - unchanged_since >= 5 or now >= deadline:
            break
        await asyncio.sleep(0.5)
    # Rows of our threads that no event announced (none expected): not part of the count, shown so that
    # nothing saved goes unexplained.
    unannounced: dict[str, int] = {}
    for r in step_rows:
        if str(r["thread"]) in threads and str(r["id"]) not in steps:
            key = f'{r["type"]}:{r["name"]}'
            unannounced[key] = unannounced.get(key, 0) + 1
    return {
        "steps": {"expected": len(steps), "saved": len(steps) - len(missing), "missing": missing[:5],
                  "unannounced": unannounced,
                  "incomplete": len(incomplete), "incomplete_ids": incomplete[:5]},
        "threads": {"expected": len(threads), "saved": len(threads) - len(missing_threads),
                    "missing": missing_threads[:5], "wrong_owner": len(wrong_owner)},
        "elements": {"expected": len(elements), "saved": len(elements) - len(missing_elements),
                     "missing": missing_elements[:5]},
        "rows_in_db": {"steps": len(saved), "threads": len(owners), "elements": len(element_ids)},
        "settled_after_s": round(time.monotonic() - began, 1), "polls": polls,
    }

