"""The question tools on a large synthetic graph, on PostgreSQL and on SQLite: p50/p95/max per tool.

    .venv/bin/python benchmarks/question_tools.py [--db postgresql|sqlite|both] [--runs 200] [--seed 1]

For each database: a fresh one (PostgreSQL: a new database on the local server, dropped after;
SQLite: a file in a temporary directory), migrated to head (`assistant.graph.migrate.upgrade`), the
synthetic graph bulk-inserted (Core `insert()` executemany in batches, not the ORM), then `--runs`
calls of each tool with arguments drawn at random, through the real tool path
(`services.registry.call(ToolCall(...), services.tool_context(user, today=TODAY))`), and `--runs`
whole offline turns ("what's due this week?", `services.agent.run_turn` with the offline provider,
budget included). Calls run one after the other (one user asking); a few warm-up calls per tool are
not counted. Prints the graph build time, a table per database (per tool, then per kind of
arguments), and the targets of the issue (on PostgreSQL: find_bills and upcoming p95 < 20 ms,
summarize_spending and vendor_profile p95 < 50 ms, the whole turn p95 < 100 ms) met or missed.

The graph ("one user among several"): the measured user alone owns the issue's totals -- 100,000
commitments, 2,000 vendors, 50,000 documents -- the worst case for one person's questions; four
other users own a quarter of that each (25,000 commitments, 500 vendors, 12,500 documents), with
vendor names drawn from the same generator (many names repeat across users), so the tables hold
200,000 commitments, 4,000 vendors and 100,000 documents and every query must filter by owner
(`--others`, `--other-scale` change that).

Per user:
- vendors: a made-up brand and a category word ("Norvex Energy", "Kalmira Mobile Inc"), the category
  set from the word (about 5% left uncategorised), 94% bill in USD, 4% EUR, 2% GBP (one currency per
  vendor); one vendor in ten has an alias (its brand alone, or its initials and category word);
- commitments: vendors drawn with a Zipf-like skew (weight rank^-0.8: the busiest vendor has about
  5% of the bills, the median one about 20); due dates uniform over 1,000 days before TODAY to 95
  days after (about 3 years, ~90 bills a day), issued 10-30 days before; 2% with no due date;
  amounts log-normal (median 80, sigma 0.9); bills due before today: paid (by their due date, give
  or take), except overdue (25% of those due in the last 30 days, 5% in the 60 before, 0.5% older)
  and 1.5% cancelled; bills due later: 4% paid early, 1% cancelled, the rest due; 3% of unpaid bills
  snoozed for a few days; description "Invoice ABC-12345"; priority as filing computes it;
- documents: half the commitments have one (the bill's short text, ~200 characters, as filed).
TODAY is 2026-11-21 (a Saturday, as in the tests). The same graph (same seed) is generated for each
database. After the load, PostgreSQL gets a VACUUM ANALYZE (planner statistics, and the visibility
map that index-only scans need: what autovacuum does after such a load); SQLite gets nothing (the
app never runs ANALYZE there). The generated rows are then dropped from memory before measuring.

Arguments drawn (each tool's mix is printed per kind):
- find_bills: open/due bills due this week or in the next 7-30 days; overdue bills; paid bills of
  a past month by paid date; everything issued over a quarter; a vendor (exact, misspelt, or by
  alias), half the time over the last 12 months; a category with a status; an amount range sorted
  by amount;
- upcoming: days 7, 14 or 30;
- summarize_spending: by month, vendor, category or year, paid or billed, over the last 12 months
  or calendar 2025, sometimes for one vendor (exact or misspelt) or one category;
- vendor_profile: a vendor drawn uniformly: by its name (70%), misspelt (20%) or by alias (10%).
Two more series are measured and printed without a target (the issue's mix leaves them out):
- find_bills text search ("NOR-12": words of the description, `LIKE '%...%'`, which no B-tree index
  serves: every bill of the user is read; a trigram index, PostgreSQL's pg_trgm extension, would);
- vendor_profile of the three busiest vendors (2,000-5,000 bills each: every bill is read).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import string
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as dtime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from assistant.db import create_engine, is_sqlite  # noqa: E402
from assistant.graph.bills import normalize_name  # noqa: E402
from assistant.graph.migrate import upgrade  # noqa: E402
from assistant.graph.models import Commitment, Document, User, Vendor, VendorAlias  # noqa: E402
from assistant.graph.priority import priority  # noqa: E402
from assistant.messages import Message, ToolCall  # noqa: E402
from assistant.service import build_services  # noqa: E402
from assistant.settings import Settings  # noqa: E402

TODAY = date(2026, 11, 21)
TARGETS_MS = {"find_bills": 20, "upcoming": 20, "summarize_spending": 50, "vendor_profile": 50, "turn": 100}
# series measured besides the issue's mix, without a target: (series, tool, share of --runs)
EXTRA = [("find_bills text search", "find_bills", 0.25), ("vendor_profile busiest vendors", "vendor_profile", 0.05)]
TURN_TEXT = "what's due this week?"

# category -> words a vendor's name ends with
CATEGORY_WORDS = {
    "utilities": ["Energy", "Power", "Water", "Gas", "Electric", "Utilities", "Waste Services"],
    "telecom": ["Mobile", "Broadband", "Telecom", "Fiber", "Wireless", "Cable"],
    "insurance": ["Insurance", "Assurance", "Mutual Insurance"],
    "housing": ["Property Management", "Rentals", "Lettings", "Mortgage"],
    "subscriptions": ["Streaming", "Music", "Subscriptions", "Membership"],
    "health": ["Dental", "Clinic", "Pharmacy", "Medical", "Health"],
    "transport": ["Parking", "Transit", "Fuel", "Auto"],
    "taxes": ["Revenue Office", "Municipal Tax"],
    "education": ["School", "Tuition", "Daycare", "College"],
    "finance": ["Credit Card", "Loans", "Financing"],
    None: ["Services", "Partners", "Group", "Solutions", "Studio"],
}
SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tor", "al", "bri", "cor", "dan", "el", "fer", "gal", "hal", "is",
             "jun", "kel", "lum", "mor", "nor", "ost", "pra", "quin", "ros", "sel", "tam", "ul", "vex", "wil",
             "xan", "yor", "zen", "ber", "cas", "dor", "fin", "gre", "har", "lin", "mar", "nex", "pol", "sun"]
SUFFIXES = ["", "", "", "", " Inc", " LLC", " Co", " Ltd", " Corp"]


@dataclass
class Graph:
    users: list[str] = field(default_factory=list)
    vendors: list[dict] = field(default_factory=list)
    aliases: list[dict] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    commitments: list[dict] = field(default_factory=list)
    # the measured user's vendors, for drawing arguments: (name, alias or None, invoice number prefix)
    measured: str = ""
    measured_vendors: list[tuple[str, str | None, str]] = field(default_factory=list)
    busiest: list[str] = field(default_factory=list)  # the measured user's three busiest vendors

    def drop_rows(self) -> None:
        """Forget the inserted rows (only what draws arguments is kept): hundreds of thousands of dicts
        would make the garbage collector's full passes show up in the timings."""
        self.vendors, self.aliases, self.documents, self.commitments = [], [], [], []

    def counts(self) -> str:
        return (f"{len(self.users)} users, {len(self.vendors):,} vendors, {len(self.aliases):,} aliases, "
                f"{len(self.documents):,} documents, {len(self.commitments):,} commitments")


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def build_graph(rng: random.Random, others: int, other_scale: float, commitments: int, vendors: int,
                documents: int) -> Graph:
    g = Graph()
    ids = {"vendor": 0, "alias": 0, "document": 0, "commitment": 0}

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    owners = [(str(uuid.UUID(int=rng.getrandbits(128))), 1.0)]
    owners += [(str(uuid.UUID(int=rng.getrandbits(128))), other_scale) for _ in range(others)]
    g.measured = owners[0][0]
    now = datetime.combine(TODAY, dtime(9), tzinfo=UTC)
    for n, (owner, scale) in enumerate(owners):
        n_vendors, n_bills, n_docs = int(vendors * scale), int(commitments * scale), int(documents * scale)
        # vendors, each with its category, currency and account number
        names: set[str] = set()
        mine: list[dict] = []
        while len(mine) < n_vendors:
            category = rng.choice([c for c in CATEGORY_WORDS if c is not None]) if rng.random() < 0.95 else None
            brand = _brand(rng)
            name = f"{brand} {rng.choice(CATEGORY_WORDS[category])}{rng.choice(SUFFIXES)}"
            key = normalize_name(name)
            if key in names:
                continue
            names.add(key)
            currency = "USD" if (r := rng.random()) < 0.94 else "EUR" if r < 0.98 else "GBP"
            mine.append({"id": next_id("vendor"), "owner_id": owner, "name": name, "normalized_name": key,
                         "category": category, "created_at": now - timedelta(days=1100),
                         "_brand": brand, "_currency": currency, "_account": f"AC-{rng.randrange(10**7):07d}",
                         "_prefix": "".join(ch for ch in brand.upper() if ch.isalpha())[:3]})
        alias_keys: set[str] = set()
        for v in mine:
            alias = None
            if rng.random() < 0.10:
                words = v["name"].split()
                alias = v["_brand"] if rng.random() < 0.5 else "".join(w[0] for w in words) + " " + words[-1]
                key = normalize_name(alias)
                if key in names or key in alias_keys:
                    alias = None
                else:
                    alias_keys.add(key)
                    g.aliases.append({"id": next_id("alias"), "owner_id": owner, "vendor_id": v["id"],
                                      "alias": alias, "normalized_alias": key})
            if n == 0:
                g.measured_vendors.append((v["name"], alias, v["_prefix"]))
        g.vendors += [{k: val for k, val in v.items() if not k.startswith("_")} for v in mine]
        # commitments
        weights = [(rank + 1) ** -0.8 for rank in range(len(mine))]
        order = mine[:]
        rng.shuffle(order)  # which vendor is busiest is not tied to its id
        picked = rng.choices(order, weights=weights, k=n_bills)
        if n == 0:
            g.busiest = [v["name"] for v in order[:3]]
        with_docs = set(rng.sample(range(n_bills), n_docs))
        for i, v in enumerate(picked):
            due = TODAY + timedelta(days=rng.randint(-1000, 95))
            issue = due - timedelta(days=rng.randint(10, 30))
            amount = Decimal(str(round(math.exp(rng.gauss(math.log(80), 0.9)), 2))).quantize(Decimal("0.01"))
            amount = max(amount, Decimal("1.00"))
            status, paid_date, paid_amount = "due", None, None
            days = (due - TODAY).days
            r = rng.random()
            if days < 0:
                overdue = 0.25 if days >= -30 else 0.05 if days >= -90 else 0.005
                if r < 0.015:
                    status = "cancelled"
                elif r < 0.015 + overdue:
                    status = "due"
                else:
                    status = "paid"
            elif r < 0.04:
                status = "paid"
            elif r < 0.05:
                status = "cancelled"
            if status == "paid":
                paid_date = min(TODAY, max(issue, due + timedelta(days=rng.randint(-10, 5))))
                paid_amount = amount if rng.random() < 0.98 else (amount * Decimal("0.9")).quantize(Decimal("0.01"))
            due_date = None if rng.random() < 0.02 else due
            number = f"{v['_prefix']}-{rng.randrange(10**5):05d}"
            score, reason = priority(amount, v["_currency"], due_date, issue)
            bill = {"id": next_id("commitment"), "owner_id": owner, "vendor_id": v["id"], "document_id": None,
                    "description": f"Invoice {number}", "amount": amount, "currency": v["_currency"],
                    "issue_date": issue, "due_date": due_date, "status": status, "paid_date": paid_date,
                    "paid_amount": paid_amount, "priority": score, "priority_reason": reason,
                    "recurrence": None, "repeats": None,
                    "snoozed_until": (TODAY + timedelta(days=rng.randint(1, 10)))
                    if status == "due" and rng.random() < 0.03 else None,
                    "created_at": datetime.combine(issue, dtime(12), tzinfo=UTC),
                    "updated_at": datetime.combine(paid_date or issue, dtime(12), tzinfo=UTC)}
            if i in with_docs:
                doc_text = (f"{v['name']}\nInvoice No. {number}\nAccount {v['_account']}\n"
                            f"Issue date {issue.isoformat()}\nAmount due {amount} {v['_currency']}\n"
                            f"Due date {due.isoformat()}\nThank you for your business.")
                created = datetime.combine(issue, dtime(18), tzinfo=UTC)
                doc = {"id": next_id("document"), "owner_id": owner, "vendor_id": v["id"],
                       "sha256": f"{rng.getrandbits(256):064x}", "source": rng.choice(("paste", "upload", "cli")),
                       "filename": f"{v['_prefix'].lower()}-{number}.pdf", "mime": "application/pdf",
                       "size_bytes": rng.randint(20_000, 400_000), "text": doc_text,
                       "fields": {"vendor": v["name"], "amount": str(amount), "currency": v["_currency"]},
                       "confidence": Decimal("0.950"), "created_at": created, "invoice_number": number,
                       "account_number": v["_account"], "amount": amount, "currency": v["_currency"],
                       "issue_date": issue, "period_start": None, "period_end": None, "replaced_by_id": None,
                       "indexed_at": created}
                g.documents.append(doc)
                bill["document_id"] = doc["id"]
            g.commitments.append(bill)
    g.users = [owner for owner, _ in owners]
    return g


async def load_graph(url: str, g: Graph) -> float:
    """Insert the graph; on PostgreSQL then VACUUM ANALYZE (statistics, and the visibility map that
    lets index-only scans skip the table: what autovacuum does after such a load). Returns the seconds
    that last step took."""
    engine = create_engine(url)
    vacuum = 0.0
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(User.__table__), [
                {"id": u, "identifier": f"bench-{i}", "created_at": datetime.now(UTC).isoformat(), "meta": {}}
                for i, u in enumerate(g.users)])
            for table, rows in ((Vendor.__table__, g.vendors), (VendorAlias.__table__, g.aliases),
                                (Document.__table__, g.documents), (Commitment.__table__, g.commitments)):
                for start in range(0, len(rows), 5000):
                    await conn.execute(insert(table), rows[start:start + 5000])
            if not is_sqlite(url):
                for table in ("vendors", "vendor_aliases", "documents", "commitments"):
                    await conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        if not is_sqlite(url):
            started = time.perf_counter()
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
            vacuum = time.perf_counter() - started
    finally:
        await engine.dispose()
    return vacuum


# ----------------------------------------------------------------------------------------------
# arguments


def typo(rng: random.Random, name: str) -> str:
    """`name` with one slip of the keyboard in a word of four letters or more (never the same words)."""
    words = name.split()
    for _ in range(20):
        w = rng.randrange(len(words))
        word = words[w]
        if len(word) < 4:
            continue
        i = rng.randrange(1, len(word) - 1)
        kind = rng.choice(("drop", "swap", "replace", "double"))
        if kind == "drop":
            new = word[:i] + word[i + 1:]
        elif kind == "swap":
            new = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif kind == "replace":
            new = word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1:]
        else:
            new = word[:i] + word[i] + word[i:]
        candidate = " ".join(words[:w] + [new] + words[w + 1:])
        if normalize_name(candidate) != normalize_name(name):
            return candidate
    return name + "x"


def _month(today: date, back: int) -> tuple[date, date]:
    m = today.year * 12 + today.month - 1 - back
    start = date(m // 12, m % 12 + 1, 1)
    n = m + 1
    return start, date(n // 12, n % 12 + 1, 1) - timedelta(days=1)


def draw_args(rng: random.Random, g: Graph, tool: str) -> tuple[str, dict]:
    """(kind, arguments) for one call of `tool`."""
    vendors = g.measured_vendors
    with_alias = [v for v in vendors if v[1]]

    def vendor_name(kind: str) -> str:
        if kind == "alias" and with_alias:
            return rng.choice(with_alias)[1]
        name = rng.choice(vendors)[0]
        return typo(rng, name) if kind == "typo" else name

    iso = date.isoformat
    week_start = TODAY - timedelta(days=TODAY.weekday())
    if tool == "upcoming":
        days = rng.choice((7, 14, 30))
        return f"days={days}", {"days": days}
    if tool == "find_bills":
        kind = rng.choices(["due soon", "overdue", "paid in a month", "issued in a quarter", "vendor",
                            "vendor typo", "vendor alias", "category", "amount range"],
                           weights=[20, 8, 10, 6, 10, 10, 4, 12, 12])[0]
        if kind == "due soon":
            days = rng.choice((0, 7, 14, 30))
            start, end = (week_start, week_start + timedelta(days=6)) if days == 0 else (TODAY, TODAY + timedelta(days=days))
            return kind, {"status": rng.choice(("open", "due")), "date_from": iso(start), "date_to": iso(end)}
        if kind == "overdue":
            return kind, {"status": "overdue"}
        if kind == "paid in a month":
            start, end = _month(TODAY, rng.randint(1, 24))
            return kind, {"status": "paid", "date_field": "paid", "date_from": iso(start), "date_to": iso(end)}
        if kind == "issued in a quarter":
            start, _ = _month(TODAY, rng.randint(3, 30))
            _, end = _month(start, -2)
            return kind, {"status": "any", "date_field": "issued", "date_from": iso(start), "date_to": iso(end)}
        if kind.startswith("vendor"):
            how = {"vendor": "exact", "vendor typo": "typo", "vendor alias": "alias"}[kind]
            args = {"vendor": vendor_name(how), "status": rng.choice(("any", "paid", "open"))}
            if rng.random() < 0.5:
                start, _ = _month(TODAY, 12)
                args.update(date_field="issued", date_from=iso(start), date_to=iso(TODAY))
            return kind, args
        if kind == "category":
            category = rng.choice([c for c in CATEGORY_WORDS if c])
            return kind, {"category": category, "status": rng.choice(("open", "paid", "any"))}
        if kind == "amount range":
            low = rng.choice((50, 100, 200, 500))
            return kind, {"status": rng.choice(("open", "any")), "amount_min": str(low),
                          "amount_max": str(low * rng.choice((2, 4))), "sort": "amount", "descending": True}
        raise AssertionError(kind)
    if tool == "find_bills text search":  # the start of an invoice number, e.g. "NOR-12"
        return "text", {"text": f"{rng.choice(vendors)[2]}-{rng.randint(10, 99)}", "status": "any"}
    if tool == "vendor_profile busiest vendors":
        return "busiest", {"vendor": rng.choice(g.busiest)}
    if tool == "summarize_spending":
        group_by = rng.choice(("month", "vendor", "category", "year"))
        basis = rng.choice(("paid", "billed"))
        if rng.random() < 0.5:
            start, end = TODAY - timedelta(days=364), TODAY
        else:
            start, end = date(2025, 1, 1), date(2025, 12, 31)
        args = {"group_by": group_by, "basis": basis, "date_from": iso(start), "date_to": iso(end)}
        r = rng.random()
        if r < 0.15:
            args["vendor"] = vendor_name("exact")
            kind = f"{group_by}, one vendor"
        elif r < 0.25:
            args["vendor"] = vendor_name("typo")
            kind = f"{group_by}, vendor typo"
        elif r < 0.40:
            args["category"] = rng.choice([c for c in CATEGORY_WORDS if c])
            kind = f"{group_by}, one category"
        else:
            kind = f"by {group_by}"
        return kind, args
    if tool == "vendor_profile":
        how = rng.choices(["exact", "typo", "alias"], weights=[70, 20, 10])[0]
        return how, {"vendor": vendor_name(how)}
    raise ValueError(tool)


# ----------------------------------------------------------------------------------------------
# measuring


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Timings:
    all: list[float] = field(default_factory=list)
    kinds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def outcome_of(tool: str, result: dict, is_error: bool) -> str:
    if is_error:
        return "error: " + str(result.get("error", ""))[:40] if "no vendor" not in str(result) else "no such vendor"
    if result.get("ambiguous"):
        return "ambiguous"
    if tool == "vendor_profile":
        return "profile"
    if "vendors_matched" in result:
        n = len(result["vendors_matched"])
        return "1 vendor matched" if n == 1 else f"{'no' if n == 0 else 'several'} vendors matched"
    return "answered"


async def measure(url: str, g: Graph, runs: int, seed: int, data_dir: Path) -> dict[str, Timings]:
    settings = Settings(data_dir=data_dir, database_url=url, environment="test", users="", providers="offline")
    services = build_services(settings)
    rng = random.Random(seed + 1)
    results: dict[str, Timings] = {}
    try:
        user = g.measured
        series = [(name, name, 1.0) for name in ("find_bills", "upcoming", "summarize_spending", "vendor_profile")]
        for name, tool, share in series + EXTRA:
            t = results[name] = Timings()
            calls = [draw_args(rng, g, name) for _ in range(max(3, int(runs * share)))]
            for _, args in calls[:3]:  # warm-up: connections, first-use caches
                await services.registry.call(ToolCall("w", tool, args), services.tool_context(user, today=TODAY))
            for i, (kind, args) in enumerate(calls):
                ctx = services.tool_context(user, today=TODAY)
                started = time.perf_counter()
                outcome = await services.registry.call(ToolCall(f"c{i}", tool, args), ctx)
                ms = (time.perf_counter() - started) * 1000
                t.all.append(ms)
                t.kinds[kind].append(ms)
                t.outcomes[outcome_of(tool, outcome.result, outcome.is_error)] += 1
        t = results["turn"] = Timings()

        async def one_turn() -> tuple[str, bool]:
            ctx = services.tool_context(user, today=TODAY)
            events = [e async for e in services.agent.run_turn([], Message("user", TURN_TEXT), ctx)]
            finished = events[-1]
            names = ",".join(c["name"] for c in finished.tool_calls)
            return names, bool(finished.stopped) or any(c["is_error"] for c in finished.tool_calls)

        for _ in range(5):
            await one_turn()
        for _ in range(runs):
            started = time.perf_counter()
            names, failed = await one_turn()
            ms = (time.perf_counter() - started) * 1000
            t.all.append(ms)
            t.kinds[TURN_TEXT].append(ms)
            t.outcomes[("FAILED " if failed else "") + f"tools: {names or 'none'}"] += 1
    finally:
        await services.close()
    return results


def report(kind: str, build: str, results: dict[str, Timings]) -> None:
    print(f"\n{kind}: {build}")
    print(f"  {'tool / arguments':<44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target")
    for tool, t in sorted(results.items(), key=lambda item: item[0] not in TARGETS_MS):
        target = TARGETS_MS.get(tool)
        p95 = pct(t.all, 95)
        verdict = f"p95 < {target} ms: {'met' if p95 < target else 'MISSED'}" if target else "(no target)"
        print(f"  {tool:<44} {len(t.all):>5} {pct(t.all, 50):>8.1f} {p95:>8.1f} {max(t.all):>8.1f}  {verdict}")
        if len(t.kinds) > 1:
            for k in sorted(t.kinds):
                v = t.kinds[k]
                print(f"    {k:<42} {len(v):>5} {pct(v, 50):>8.1f} {pct(v, 95):>8.1f} {max(v):>8.1f}")
        print("    outcomes: " + ", ".join(f"{k} {n}" for k, n in sorted(t.outcomes.items())))


async def run_one(kind: str, args) -> tuple[str, dict[str, Timings]]:
    started = time.perf_counter()
    g = build_graph(random.Random(args.seed), args.others, args.other_scale, args.commitments, args.vendors,
                    args.documents)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="bench_questions_") as tmp:
        drop = None
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'assistant.db'}"
        else:
            import asyncpg

            name = f"bench_questions_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(args.admin_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            url = make_url(args.admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)

            async def drop() -> None:
                conn = await asyncpg.connect(args.admin_url)
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()
        try:
            await upgrade(url)
            started = time.perf_counter()
            vacuum = await load_graph(url, g)
            loaded = time.perf_counter() - started
            build = (f"{g.counts()}; graph built in {generated + loaded:.1f} s (rows generated in Python {generated:.1f} s, "
                     f"inserted {loaded - vacuum:.1f} s" + (f", VACUUM ANALYZE {vacuum:.1f} s)" if vacuum else ")"))
            g.drop_rows()
            gc.collect()
            results = await measure(url, g, args.runs, args.seed, Path(tmp) / "data")
            return build, results
        finally:
            if drop is not None:
                await drop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--runs", type=int, default=200, help="calls per tool (and whole turns)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commitments", type=int, default=100_000)
    parser.add_argument("--vendors", type=int, default=2_000)
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument("--others", type=int, default=4, help="other users besides the measured one")
    parser.add_argument("--other-scale", type=float, default=0.25, help="their graph's size, relative")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    total = args.commitments + int(args.commitments * args.other_scale) * args.others
    print(f"synthetic graph: {1 + args.others} users; measured user: {args.commitments:,} commitments, "
          f"{args.vendors:,} vendors, {args.documents:,} documents; {total:,} commitments in all")
    print(f"{args.runs} calls per tool and {args.runs} whole turns, seed {args.seed}, today {TODAY}")
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    summary = []
    for kind in kinds:
        build, results = await run_one(kind, args)
        report(kind, build, results)
        summary.append((kind, results))
    print("\ntargets (p95 ms / target; the issue sets them on PostgreSQL, SQLite is shown for comparison):")
    for kind, results in summary:
        parts = []
        for tool, t in results.items():
            if tool not in TARGETS_MS:
                continue
            p95 = pct(t.all, 95)
            parts.append(f"{tool} {p95:.1f}/{TARGETS_MS[tool]} {'met' if p95 < TARGETS_MS[tool] else 'MISSED'}")
        print(f"  {kind}: " + "; ".join(parts))


if __name__ == "__main__":
    asyncio.run(main())
