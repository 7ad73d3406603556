"""Chat load: concurrent signed-in sessions over Chainlit's socket, on PostgreSQL, offline provider.

    .venv/bin/python benchmarks/load_chat.py [--sessions 50] [--duration 60] [--pause 2] [--json]
    .venv/bin/python benchmarks/load_chat.py --url http://HOST:PORT [--database-url URL] [--server-pid PID]

By default it creates a scratch PostgreSQL database on the local server, starts the app on it
(tests/conftest.py `start_server`, offline provider only, users `user01` .. `userNN` with passwords
`pw-user01` ..), runs the load, and drops both. With `--url` it drives a server you started yourself
with those users (`ASSISTANT_USERS=$(... --print-users)`); give `--database-url` to count its history
and `--server-pid` (else: whoever listens on the URL's port) to sample its memory.

Each session is one browser tab (tests/web/chat_client.py `ChatClient`): it signs in as its own
user, pastes a bill (tests/factories.py `bill_text`, varied vendor, amount, due date) as its first
message, then keeps talking: ~30% more pasted bills, the rest questions the offline provider answers
with a tool (benchmarks/_load_support.py `QUESTIONS`). After each reply it waits `--pause` s (0: the
next message right away, i.e. saturation). The sessions start one after another over `--ramp` s
(default 10). The warm-up lasts until every session has sent `--window-turns` messages (default 20,
the server's CONVERSATION_TURNS) and at least `--warmup` s (default 10), at most `--warmup-max` s: a
new chat keeps its latest CONVERSATION_TURNS turns in the server's memory, so until the chats have
that many, the server grows by design (by ~15 MB for 50 chats; bounded, printed as the warm-up's
growth). Then the measured `--duration` s: latency is that of the turns started in the measured
window, throughput the turns that ended in it per second; the warm-up's are printed apart. Errors
and history cover every turn.
Also printed: the server's CPU per turn, PostgreSQL transactions per turn, and the server log's
history errors and push-back (writes waiting for a connection, turns waiting for history).

A turn's latency is from sending the message to the turn's end as ChatClient defines it (the
`task_end` after the message's `on_message` run step closed). An error is a turn that raised, timed
out (`--turn-timeout`), or whose reply was an error message. Tool steps marked as errors (e.g. "no
open water bill") are answers, counted apart.

History: after the run, every step id the client saw created in a turn (run step, tool steps,
answers, review and confirmation messages, plus the user's own message) must be a row of `steps`,
with its output if the client saw one; every session's thread a row of `threads` owned by its user;
every element a row of `elements`. Background writes are given time to land (polled until complete
or stable, bounded). Missing ids are listed.

Memory: the server's RSS every second (start of the load, after the warm-up, peak, end; the trend
after warm-up in MB/min). "Flat" means the end is within max(10 MB, 5%) of the post-warm-up level,
both averaged over 10 s (the server trims its heap every 10 s: _load_support.py `MemorySampler`).
The machine may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._load_support import (  # noqa: E402
    MemorySampler,
    Talk,
    TurnResult,
    count_history,
    password,
    percentile,
    steps_outside,
    turn_result,
    username,
)
from tests.conftest import (  # noqa: E402
    chroma_running,
    create_pg_database,
    drop_pg_database,
    free_port,
    start_server,
)
from tests.web.chat_client import ChatClient  # noqa: E402
from tests.web.conftest import query  # noqa: E402

TARGET_P95_MS = 500  # issue 7, the paused run


def users_setting(sessions: int, hashed: bool) -> str:
    """`ASSISTANT_USERS` for `sessions` users. `hashed`: bcrypt at 4 rounds, given to the server as
    ready hashes, so seeding 50 users takes a second rather than ~15 s of 12-round hashing at
    startup (sign-in happens before the load starts, so this does not touch the figures)."""
    import bcrypt

    entries = []
    for i in range(1, sessions + 1):
        secret = password(i)
        if hashed:
            secret = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode()
        entries.append(f"{username(i)}:{secret}")
    return ",".join(entries)


def listening_pid(url: str) -> int | None:
    port = urlparse(url).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except psutil.AccessDenied:
        pass
    return None


async def open_session(i: int, url: str, timeout: float) -> ChatClient:
    chat = ChatClient(url, username(i), password(i), timeout=timeout)
    try:
        await chat.login()
        await chat.connect()
    except BaseException:
        await chat.close()
        raise
    return chat


class Window:
    """When the warm-up ends (every session sent `--window-turns` messages, after `--warmup` s, or at
    `--warmup-max` s) and so the measured window: `start`/`end` are None until then."""

    def __init__(self, t0: float, args, sessions: int):
        self.t0, self.args, self.sessions = t0, args, sessions
        self.sent: dict[int, int] = defaultdict(int)
        self.start: float | None = None
        self.end: float | None = None
        self.began = asyncio.Event()

    def over(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def turn_sent(self, i: int) -> None:
        self.sent[i] += 1

    async def watch(self) -> None:
        minimum, maximum = self.t0 + self.args.warmup, self.t0 + max(self.args.warmup, self.args.warmup_max)
        while time.monotonic() < maximum:
            full = len(self.sent) >= self.sessions and min(self.sent.values()) >= self.args.window_turns
            if full and time.monotonic() >= minimum:
                break
            await asyncio.sleep(0.1)
        self.start = time.monotonic()
        self.end = self.start + self.args.duration
        self.began.set()


async def talk(i: int, chat: ChatClient, args, t0: float, window: Window, results: list[TurnResult]) -> None:
    rng = random.Random(args.seed * 1000 + i)
    speaker = Talk(rng, paste_share=args.paste_share)
    # Ramp-up: the sessions start one after another, not all in the same instant (50 first messages
    # at once, each filing a bill, is a thundering herd no household makes).
    await asyncio.sleep((i - 1) * args.ramp / args.sessions)
    while not window.over():
        window.turn_sent(i)
        kind, text = speaker.next()
        started = time.monotonic()
        try:
            turn = await chat.send(text)
        except Exception as exc:  # a timeout (ChatError), a dropped socket, ...
            results.append(TurnResult(i, kind, started - t0, None, error=f"{type(exc).__name__}: {exc}"[:200]))
            if chat.sio is None or not chat.sio.connected:
                return
        else:
            results.append(turn_result(i, kind, started - t0, time.monotonic() - started, text, turn))
            if args.verbose:
                print(f"[{username(i)}] {kind[:40]!r} {1000 * results[-1].latency:.0f} ms "
                      f"{[(s.get('type'), s.get('name')) for s in turn.steps.values()]}: {turn.text[:100]!r}")
        if args.pause:
            await asyncio.sleep(args.pause)


def log_findings(log: str) -> dict[str, int]:
    patterns = {"history_write_errors": r"chat history query failed", "failed_turns": r"turn failed",
                "tracebacks": r"Traceback \(most recent call last\)",
                "unretrieved_task_errors": r"Task exception was never retrieved",
                "persist_errors": r"Failed to persist",
                # not errors: the history layer waiting for a pooled connection, or a turn that stopped
                # waiting for history to catch up (assistant/web/history.py)
                "history_pool_waits": r"chat history write waiting for a database connection",
                "turns_past_history_backlog": r"chat history still behind"}
    return {name: len(re.findall(pattern, log)) for name, pattern in patterns.items()}


async def transactions(database_url: str) -> int:
    """Transactions committed or rolled back in the server's database so far (PostgreSQL's own
    statistics, flushed about once a second: a rough count of round trips per turn)."""
    rows = await query(database_url, "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database "
                                     "WHERE datname = current_database()")
    return int(rows[0]["n"])


def latency_figures(latencies: list[float]) -> dict[str, float | None]:
    figures = {p: _ms(percentile(latencies, q)) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}
    return figures | {"max": _ms(max(latencies, default=None))}


async def drive(url: str, database_url: str | None, pid: int | None, args) -> dict[str, Any]:
    """Sign everyone in, run the warm-up and then the measured `--duration` s, count history.

    Latency and throughput are those of the measured window; the warm-up's turns (while the sessions
    ramp up and fill their chat windows) are reported apart. Errors and history cover every turn."""
    load_start = os.getloadavg()
    sampler = MemorySampler(pid).start() if pid else None
    opened = await asyncio.gather(*(open_session(i, url, args.turn_timeout) for i in range(1, args.sessions + 1)),
                                  return_exceptions=True)
    chats = {i: o for i, o in enumerate(opened, start=1) if not isinstance(o, BaseException)}
    connect_errors = [f"{type(o).__name__}: {o}"[:200] for o in opened if isinstance(o, BaseException)]

    results: list[TurnResult] = []
    t0 = time.monotonic()
    window = Window(t0, args, len(chats))
    watcher = asyncio.create_task(window.watch())
    cpu_at: dict[str, float] = {}

    async def cpu_at_window_start() -> None:
        await window.began.wait()
        cpu_at["client"] = sum(me.cpu_times()[:2])
        if sampler:
            cpu_at["start"] = sampler.cpu_seconds()
        if database_url:
            cpu_at["xacts"] = await transactions(database_url)

    me = psutil.Process()
    cpu_task = asyncio.create_task(cpu_at_window_start())
    await asyncio.gather(*(talk(i, chat, args, t0, window, results) for i, chat in chats.items()))
    t_end = time.monotonic()
    await watcher
    await cpu_task
    window_start, window_end = window.start, window.end
    warmup = window_start - t0
    cpu = sampler.cpu_seconds() - cpu_at["start"] if sampler else None
    client_cpu = sum(me.cpu_times()[:2]) - cpu_at["client"]
    xacts = await transactions(database_url) - cpu_at["xacts"] if database_url else None
    load_end = os.getloadavg()
    for chat in chats.values():
        await chat.close()

    measured = [r for r in results if r.started >= warmup]
    warm = [r for r in results if r.started < warmup]
    ended = [r for r in measured if r.latency is not None]
    # Throughput: turns that ended within the measured window, whenever they started (with a long
    # latency, few turns start and end inside it).
    done_in_window = [r for r in results if r.latency is not None
                      and window_start <= t0 + r.started + r.latency <= window_end]
    errors = [r for r in results if r.error]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in ended:
        by_kind["paste" if r.kind == "paste" else "question"].append(r.latency * 1000)
    measured_s = t_end - window_start

    report: dict[str, Any] = {
        "sessions": args.sessions, "connected": len(chats), "duration_s": args.duration, "pause_s": args.pause,
        "warmup_s": round(warmup, 1), "measured_s": round(measured_s, 1),
        "turns": len(measured), "turns_by_kind": {k: len(v) for k, v in by_kind.items()},
        "throughput_turns_per_s": round(len(done_in_window) / args.duration, 2),
        "turns_ended_in_window": len(done_in_window),
        "latency_ms": latency_figures([r.latency * 1000 for r in ended]),
        "latency_ms_by_kind": {k: {"p50": _ms(percentile(v, 50)), "p95": _ms(percentile(v, 95))}
                               for k, v in by_kind.items()},
        "warmup": {"turns": len(warm),
                   "latency_ms": latency_figures([r.latency * 1000 for r in warm if r.latency is not None])},
        "errors": len(errors) + len(connect_errors),
        "errors_by_cause": {"timeout_or_exception": sum(1 for r in errors if r.latency is None),
                            "error_reply": sum(1 for r in errors if r.latency is not None),
                            "connect": len(connect_errors)},
        "error_examples": [r.error for r in errors[:5]] + connect_errors[:3],
        "tool_steps_marked_error": sum(r.tool_errors for r in results),
        "client_cpu_cores": round(client_cpu / measured_s, 2),
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in load_end]},
    }
    # Per turn: over the turns that ended from the window's start to the last one's end.
    finished = [r for r in results if r.latency is not None and t0 + r.started + r.latency >= window_start]
    if xacts is not None and finished:
        report["db_transactions_per_turn"] = round(xacts / len(finished), 1)
    if sampler:
        report["server_cpu"] = {"seconds": round(cpu, 1), "cores": round(cpu / measured_s, 2),
                                "ms_per_turn": round(1000 * cpu / len(finished), 1) if finished else None}

    if database_url:
        steps: dict[str, int] = {}
        for r in results:
            steps.update(r.steps)
        threads, outside = {}, 0
        for i, chat in chats.items():
            if any(r.session == i for r in results) and chat.thread_id:
                threads[chat.thread_id] = username(i)
                extra = steps_outside(chat.events, steps)
                outside += len(extra)
                steps.update(extra)
        elements = set().union(*(r.elements for r in results))
        report["history"] = await count_history(database_url, steps, threads, elements, settle=args.settle)
        report["history"]["steps"]["seen_outside_turns"] = outside

    if sampler:
        sampler.stop()
        report["memory"] = sampler.summary(t0, window_start, t_end)
        report["memory"]["after_history_settled_mb"] = round(sampler.samples[-1][1] / 2**20, 1)
    return report


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def verdicts(report: dict[str, Any]) -> dict[str, bool | None]:
    history = report.get("history")
    saved_all = None
    if history:
        s, t, e = history["steps"], history["threads"], history["elements"]
        saved_all = (s["saved"] == s["expected"] and not s["incomplete"] and t["saved"] == t["expected"]
                     and not t["wrong_owner"] and e["saved"] == e["expected"])
    memory = report.get("memory")
    flat = None
    if memory:
        flat = memory["growth_after_warmup_mb"] <= max(10.0, 0.05 * memory["after_warmup_mb"])
    p95 = report["latency_ms"]["p95"]
    return {"no_errors": report["errors"] == 0, "p95_under_500_ms": p95 is not None and p95 < TARGET_P95_MS,
            "memory_flat": flat, "history_100_percent": saved_all}


def print_report(r: dict[str, Any]) -> None:
    la = r["load_average"]
    lat = r["latency_ms"]
    print(f"load: {r['connected']}/{r['sessions']} sessions, {r['duration_s']} s, pause {r['pause_s']} s "
          f"({r['server']})")
    print(f"load average     start {' '.join(map(str, la['start']))}; end {' '.join(map(str, la['end']))}")
    w = r["warmup"]
    print(f"warm-up          {r['warmup_s']} s, {w['turns']} turns, p50 {w['latency_ms']['p50']} ms, "
          f"p95 {w['latency_ms']['p95']} ms, max {w['latency_ms']['max']} ms (not in the figures below)")
    kinds = ", ".join(f"{k} {n}" for k, n in r["turns_by_kind"].items())
    print(f"turns            {r['turns']} started in the {r['duration_s']} s window ({kinds}), "
          f"{r['turns_ended_in_window']} ended in it (the last ended at {r['measured_s']} s)")
    print(f"throughput       {r['throughput_turns_per_s']} turns/s")
    print(f"latency          p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    for kind, v in r["latency_ms_by_kind"].items():
        print(f"  {kind:<14} p50 {v['p50']} ms, p95 {v['p95']} ms")
    c = r["errors_by_cause"]
    print(f"errors           {r['errors']}, all turns (timeouts/exceptions {c['timeout_or_exception']}, "
          f"error replies {c['error_reply']}, connect {c['connect']})")
    for example in r["error_examples"]:
        print(f"  {example}")
    print(f"tool steps marked error (answers like 'no such bill'): {r['tool_steps_marked_error']}")
    if "history" in r:
        h = r["history"]
        s, t, e = h["steps"], h["threads"], h["elements"]
        pct = 100 * s["saved"] / s["expected"] if s["expected"] else 100
        print(f"history steps    {s['saved']}/{s['expected']} saved ({pct:.2f}%), "
              f"{s['incomplete']} saved without their output")
        if s["missing"]:
            print(f"  missing step ids (first {len(s['missing'])}): {', '.join(s['missing'])}")
        print(f"history threads  {t['saved']}/{t['expected']} saved, {t['wrong_owner']} with the wrong owner")
        print(f"history elements {e['saved']}/{e['expected']} saved")
        print(f"  ({s['seen_outside_turns']} of the steps were seen outside a recorded turn; settled after "
              f"{h['settled_after_s']} s; rows in db: {h['rows_in_db']}; rows of these threads no event "
              f"announced: {s['unannounced'] or 'none'})")
    if "memory" in r:
        m = r["memory"]
        print(f"server memory    start {m['start_mb']} MB, after warm-up {m['after_warmup_mb']} MB, "
              f"peak {m['peak_mb']} MB, end {m['end_mb']} MB ({m['growth_after_warmup_mb']:+} MB after warm-up, "
              f"trend {m['trend_mb_per_min']} MB/min; {m['after_history_settled_mb']} MB once history settled)")
        print("  RSS by time     " + ", ".join(f"{t}s {v}" for t, v in m["series"]))
    if "db_transactions_per_turn" in r:
        print(f"db transactions  {r['db_transactions_per_turn']} per turn (pg_stat_database)")
    if "server_cpu" in r:
        c = r["server_cpu"]
        print(f"server CPU       {c['seconds']} s ({c['cores']} cores), {c['ms_per_turn']} ms per turn; "
              f"this client {r['client_cpu_cores']} cores")
    if "server_log" in r:
        print(f"server log       {r['server_log']}")
    v = r["verdicts"]
    print("targets          " + ", ".join(f"{k}: {'yes' if ok else 'no' if ok is False else 'n/a'}"
                                          for k, ok in v.items()))


async def with_own_server(args) -> dict[str, Any]:
    """The load against a server of our own: a scratch PostgreSQL database, the app on the offline
    provider, and with `--chroma-server` a `chroma run` server for the search index (as the compose
    file deploys it) instead of the embedded index in the data dir. All dropped afterwards."""
    database_url = await create_pg_database()
    data = Path(tempfile.mkdtemp(prefix="load-chat-"))
    env = {"ASSISTANT_PROVIDERS": "offline"}
    try:
        with contextlib.ExitStack() as stack:
            if args.chroma_server:
                env["CHROMA_URL"] = stack.enter_context(chroma_running(free_port(), data / "chroma-server"))
            server = await asyncio.to_thread(start_server, data / "data", database_url,
                                             users=users_setting(args.sessions, hashed=True), extra_env=env)
            stack.callback(server.stop)
            report = await drive(server.url, database_url, server.process.pid, args)
            index = "Chroma server" if args.chroma_server else "embedded Chroma"
            report["server"] = f"own server pid {server.process.pid}, PostgreSQL, offline provider, {index}"
            report["server_log"] = log_findings(server.log())
            return report
    finally:
        await drop_pg_database(database_url)
        if args.keep:
            print(f"kept {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--pause", type=float, default=2, help="seconds between a reply and the next message")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--url", help="drive this running server instead of starting one")
    parser.add_argument("--database-url", help="with --url: its database, to count the saved history")
    parser.add_argument("--server-pid", type=int, help="with --url: the server process, for memory")
    parser.add_argument("--paste-share", type=float, default=0.3,
                        help="share of turns (after each session's first) that paste a bill")
    parser.add_argument("--chroma-server", action="store_true",
                        help="index documents in a `chroma run` server (as deployed) instead of embedded Chroma")
    parser.add_argument("--turn-timeout", type=float, default=30)
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which the sessions start")
    parser.add_argument("--warmup", type=float, default=10, help="at least this many seconds of warm-up")
    parser.add_argument("--window-turns", type=int, default=int(os.environ.get("CONVERSATION_TURNS", 20)),
                        help="warm up until every session has sent this many messages (its chat window is "
                             "full: CONVERSATION_TURNS); 0: just --warmup s")
    parser.add_argument("--warmup-max", type=float, default=120, help="at most this many seconds of warm-up")
    parser.add_argument("--settle", type=float, default=60, help="at most this long for history writes to land")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the server's data dir and log")
    parser.add_argument("--verbose", action="store_true", help="print every turn")
    parser.add_argument("--print-users", action="store_true", help="print ASSISTANT_USERS for --sessions, exit")
    args = parser.parse_args()
    if args.print_users:
        print(users_setting(args.sessions, hashed=False))
        return 0

    if args.url:
        pid = args.server_pid or listening_pid(args.url)
        report = await drive(args.url, args.database_url, pid, args)
        report["server"] = f"server at {args.url}, pid {pid}"
    else:
        report = await with_own_server(args)
    report["verdicts"] = verdicts(report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
