"""What an answer shows besides its text: tables, charts, a vendor card and links to the originals.

The tools' results of one turn are collected (`AnswerViews.add`) and, when the answer is sent, become
Chainlit elements shown inline under it (`AnswerViews.elements`) plus a line of links to the filed
documents (`AnswerViews.links`):

- find_bills / upcoming with two bills or more: a sortable data grid (`cl.Dataframe`);
- summarize_spending: a bar chart (`cl.Plotly`), per month or year over time, or per vendor or
  category as horizontal bars; one trace per currency, the previous period lighter when it lines up;
- vendor_profile: a card (`cl.CustomElement`, `public/elements/VendorCard.jsx`, rendered by the
  Chainlit frontend at run time: no build step) and a small chart of the vendor's amounts, anomalies
  marked;
- documents behind the bills listed or found: markdown links to `/documents/<id>` (owner only).

The text answer keeps its own markdown (tables included), so history and screen readers do not
depend on the elements. The builders return plain data (DataFrame, Figure, dict) and are tested
without a Chainlit context; a view that fails is logged and left out, never failing the turn.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import chainlit as cl
import pandas as pd
import plotly.graph_objects as go

from assistant.money import format_date, format_money

log = logging.getLogger(__name__)

MAX_LINKS = 10  # document links under one answer
MAX_BARS = 15  # vendors or categories in one chart
CARD_ELEMENT = "VendorCard"  # public/elements/VendorCard.jsx

_COLOURS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"]  # one per currency
# the same hues, lighter: the previous period's bars
_LIGHTER = dict(zip(_COLOURS, ["#93c5fd", "#86efac", "#fcd34d", "#d8b4fe", "#fca5a5", "#67e8f9"]))
_ANOMALY = "#dc2626"
_GREY = "#8a8a8a"  # readable on the light and the dark theme


# ----------------------------------------------------------------------------------------------
# bills as a data grid


def bill_table(tool: str, result: dict[str, Any]) -> pd.DataFrame | None:
    """The bills of a find_bills or upcoming result as a grid (None for fewer than two bills).

    Chainlit's grid sorts a column by its raw values when it holds ten rows or fewer, and
    "alphanumerically" (digit runs compared as numbers) above that. Amounts are shown as money
    ("$1,200.00") and left-padded with spaces to one width (spaces are invisible in the cell and sort
    before any digit or symbol), so both kinds of sorting order them by value within a currency. Due
    dates are ISO dates for the same reason; bill numbers and priorities are numbers."""
    bills = result.get("bills") or []
    if len(bills) < 2:
        return None
    amounts = [format_money(b["amount"], b["currency"]) for b in bills]
    width = max(len(a) for a in amounts)
    rows: dict[str, list[Any]] = {
        "#": [b["id"] for b in bills],
        "Vendor": [b["vendor"] for b in bills],
        "Amount": [a.rjust(width) for a in amounts],
        "Due": [b.get("due_date") or "—" for b in bills],
        "Status": [b["status"] for b in bills],
    }
    if any(b.get("paid_date") for b in bills):
        rows["Paid on"] = [b.get("paid_date") or "—" for b in bills]
    if tool == "upcoming":
        rows["Priority"] = [_number(b.get("priority")) for b in bills]
        rows["Why"] = [b.get("priority_reason") or "" for b in bills]
    return pd.DataFrame(rows)


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    d = Decimal(str(value))
    return int(d) if d == d.to_integral_value() else float(d)


# ----------------------------------------------------------------------------------------------
# spending as a chart


def _month_label(key: str) -> str:
    return date(int(key[:4]), int(key[5:7]), 1).strftime("%b %Y")


def _months(start: date, end: date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _shift(key: str, group_by: str, months: int) -> str:
    """A month/year key moved back by `months` months (the previous period's key at that position)."""
    if group_by == "year":
        return f"{int(key) - months // 12:04d}"
    n = int(key[:4]) * 12 + int(key[5:7]) - 1 - months
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def _day(value: str) -> date:
    return date.fromisoformat(value)


def period_label(start: date, end: date) -> str:
    """'2026', 'Oct 2026', '1 – 21 Nov 2026', '1 Jan – 21 Nov 2026', '1 Dec 2025 – 28 Feb 2026'."""
    last_day = (end + timedelta(days=1)).day == 1
    if start == end:
        return f"{start.day} {start:%b %Y}"
    if start.year == end.year and (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return str(start.year)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%b %Y}" if start.day == 1 and last_day else f"{start.day} – {end.day} {end:%b %Y}"
    left = f"{start.day} {start:%b}" if start.year == end.year else f"{start.day} {start:%b %Y}"
    return f"{left} – {end.day} {end:%b %Y}"


def _aligned_shift(result: dict[str, Any]) -> int | None:
    """Months between the period and the previous one when both are whole calendar months (then the
    previous period's month N lines up with this period's month N); else None."""
    start, end = _day(result["period"]["from"]), _day(result["period"]["to"])
    prev = _day(result["previous_period"]["from"])
    if not (start.day == 1 and prev.day == 1 and (end + timedelta(days=1)).day == 1):
        return None
    return (start.year * 12 + start.month) - (prev.year * 12 + prev.month)


def _layout(fig: go.Figure, title: str, height: int) -> None:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height, margin={"l": 10, "r": 10, "t": 64, "b": 10},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font={"color": _GREY},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"},
        barmode="group", hoverlabel={"namelength": -1},
    )
    grid = "rgba(128,128,128,0.25)"
    fig.update_xaxes(gridcolor=grid, zerolinecolor=grid)
    fig.update_yaxes(gridcolor=grid, zerolinecolor=grid)


def _faded(colour: str | list[str]) -> dict[str, Any]:
    """The previous period's bars: a lighter tint of the same colour (visible on both themes, unlike a
    see-through bar on the dark one)."""
    tint = [_LIGHTER[c] for c in colour] if isinstance(colour, list) else _LIGHTER[colour]
    return {"color": tint}


def _money_axis(fig: go.Figure, currencies: list[str], axis: str) -> None:
    """A currency symbol on the value axis when the chart has one currency."""
    if len(currencies) == 1:
        symbol = format_money("0", currencies[0]).replace("0.00", "").strip()
        prefix, suffix = (symbol, "") if format_money("0", currencies[0]).startswith(symbol) else ("", " " + symbol)
        getattr(fig, f"update_{axis}axes")(tickprefix=prefix, ticksuffix=suffix, separatethousands=True)


def spending_chart(result: dict[str, Any]) -> go.Figure | None:
    """A summarize_spending result as bars: per month/year over the period (every month shown, zero
    where nothing was spent), or per vendor/category (largest on top). None when there is nothing
    to compare (no groups, or a single month/year)."""
    groups, group_by = result.get("groups") or [], result.get("group_by")
    if not groups:
        return None
    start, end = _day(result["period"]["from"]), _day(result["period"]["to"])
    prev_start, prev_end = _day(result["previous_period"]["from"]), _day(result["previous_period"]["to"])
    used: dict[str, int] = {}
    for g in groups:
        used[g["currency"]] = used.get(g["currency"], 0) + g["count"] + g["previous_count"]
    currencies = sorted(used, key=lambda c: (-used[c], c))  # the most used first: it gets the first colour
    verb = "Paid" if result.get("basis", "paid") == "paid" else "Billed"
    per = {"month": "per month", "year": "per year", "vendor": "per vendor", "category": "per category"}[group_by]
    totals = result.get("totals") or []
    now_total = " · ".join(format_money(t["amount"], t["currency"]) for t in totals if Decimal(t["amount"]))
    before_total = " · ".join(format_money(t["previous_amount"], t["currency"])
                              for t in totals if Decimal(t["previous_amount"]))
    subtitle = (f"Total {now_total}" if now_total else "") + (
        f"{'; ' if now_total else ''}previous period ({period_label(prev_start, prev_end)}): {before_total}"
        if before_total else "")
    title = f"{verb} {per}, {period_label(start, end)}" + (f"<br><sup>{subtitle}</sup>" if subtitle else "")
    previous_name = f"previous period ({period_label(prev_start, prev_end)})"
    fig = go.Figure()
    by_key = {(g["key"], g["currency"]): g for g in groups}

    if group_by in ("month", "year"):
        keys = _months(start, end) if group_by == "month" else [f"{y:04d}" for y in range(start.year, end.year + 1)]
        if len(keys) < 2:
            return None
        labels = [_month_label(k) if group_by == "month" else k for k in keys]
        shift = _aligned_shift(result)
        for i, currency in enumerate(currencies):
            colour = _COLOURS[i % len(_COLOURS)]
            rows = [by_key.get((k, currency)) for k in keys]
            now = [float(r["amount"]) if r else 0.0 for r in rows]
            before = [float(r["previous_amount"]) if r else 0.0 for r in rows]
            # the tool lists only months/years with spending now, so a month spent in only before is
            # missing from the groups: draw the earlier period only when its months add up to its total
            complete = sum(Decimal(r["previous_amount"]) for r in rows if r) == sum(
                (Decimal(t["previous_amount"]) for t in totals if t["currency"] == currency), Decimal("0"))
            if shift is not None and any(before) and complete:
                earlier = [_shift(k, group_by, shift) for k in keys]
                fig.add_bar(x=labels, y=before, name=f"{currency}, {previous_name}", marker=_faded(colour),
                            customdata=[[_month_label(k) if group_by == "month" else k,
                                         format_money(str(v), currency)] for k, v in zip(earlier, before)],
                            hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>")
            fig.add_bar(x=labels, y=now, name=currency, marker_color=colour,
                        customdata=[[format_money(str(v), currency), r["count"] if r else 0]
                                    for v, r in zip(now, rows)],
                        hovertemplate="%{x}: %{customdata[0]} (%{customdata[1]} bills)<extra></extra>")
        _layout(fig, title, 380)
        _money_axis(fig, currencies, "y")
        fig.update_xaxes(type="category")
        return fig

    # one bar per vendor/category and currency, largest first; other currencies than the main one are
    # named in the label, so each row is one bar (and its previous period), whatever the currencies
    shown = groups[:MAX_BARS]
    if len(shown) < 2 and not any(Decimal(g["previous_amount"]) for g in shown):
        return None
    labels = [g["key"] if g["currency"] == currencies[0] else f"{g['key']} ({g['currency']})" for g in shown]
    colours = [_COLOURS[currencies.index(g["currency"]) % len(_COLOURS)] for g in shown]
    before = [float(g["previous_amount"]) for g in shown]
    if any(before):
        fig.add_bar(y=labels, x=before, orientation="h", name=previous_name, marker=_faded(colours),
                    customdata=[format_money(g["previous_amount"], g["currency"]) for g in shown],
                    hovertemplate="%{y}, previous period: %{customdata}<extra></extra>")
    fig.add_bar(y=labels, x=[float(g["amount"]) for g in shown], orientation="h", name=period_label(start, end),
                marker_color=colours,
                customdata=[[format_money(g["amount"], g["currency"]), g["count"]] for g in shown],
                hovertemplate="%{y}: %{customdata[0]} (%{customdata[1]} bills)<extra></extra>")
    if len(groups) > len(shown):
        title += f" (largest {len(shown)} of {len(groups)})"
    _layout(fig, title, 150 + (22 if any(before) else 14) * len(shown) * 2)
    _money_axis(fig, currencies, "x")
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_layout(showlegend=any(before))
    return fig


# ----------------------------------------------------------------------------------------------
# a vendor's card and amounts


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def vendor_card(result: dict[str, Any]) -> dict[str, Any] | None:
    """The props of the vendor card: everything preformatted, so the JSX only lays it out."""
    vendor = result.get("vendor")
    if not isinstance(vendor, dict):
        return None  # an ambiguous name: the answer asks which vendor
    facts: list[list[str]] = []
    count = sum(t["count"] for t in result.get("totals") or [])
    facts.append(["Bills", str(count)])
    habit = result.get("recurrence") or ""
    if result.get("usual_due_day"):
        habit = (habit + ", " if habit else "") + f"due around the {_ordinal(result['usual_due_day'])}"
    if habit:
        facts.append(["Usually", habit])
    if result.get("average"):
        facts.append(["Average", " · ".join(format_money(a["amount"], a["currency"]) for a in result["average"])])
    last = result.get("last")
    if last:
        when = f"due {format_date(last['due_date'])}" if last.get("due_date") else "no due date"
        facts.append(["Latest", f"{format_money(last['amount'], last['currency'])}, {when} ({last['status']})"])
    return {
        "name": vendor["name"],
        "category": vendor.get("category") or "",
        "aliases": vendor.get("aliases") or [],
        "facts": facts,
        "totals": [{"currency": t["currency"], "billed": format_money(t["billed"], t["currency"]),
                    "paid": format_money(t["paid"], t["currency"]), "open": format_money(t["open"], t["currency"])}
                   for t in result.get("totals") or []],
        "anomalies": [f"Bill #{a['bill_id']}: {format_money(a['amount'], a['currency'])}"
                      + (f", due {format_date(a['due_date'])}" if a.get("due_date") else "")
                      + f" — {a['ratio']}× the usual {format_money(a['usual'], a['currency'])}"
                      for a in result.get("anomalies") or []],
        "documents": [{"label": _document_label(d), "url": d["url"], "filed": d.get("filed") or ""}
                      for d in result.get("documents") or []],
    }


def _document_label(document: dict[str, Any]) -> str:
    """Its file name, else what it is and when it was filed ("Text, 22 Nov 2026")."""
    if document.get("filename"):
        return document["filename"]
    mime = document.get("type") or ""
    kind = ("PDF" if mime == "application/pdf" else "Photo" if mime.startswith("image/")
            else "Email" if mime == "message/rfc822" else "Text" if mime.startswith("text/") else "Document")
    if not document.get("filed"):
        return f"{kind} {document['id']}"
    filed = date.fromisoformat(document["filed"])
    return f"{kind}, {filed.day} {filed:%b %Y}"


def vendor_chart(result: dict[str, Any]) -> go.Figure | None:
    """The vendor's bills over time (by due date, else issue date), anomalies in red, the average
    dotted. None with fewer than two dated bills."""
    vendor = result.get("vendor")
    if not isinstance(vendor, dict):
        return None

    def when(bill: dict[str, Any]) -> str | None:
        return bill.get("due_date") or bill.get("issue_date")

    bills = [b for b in result.get("bills") or [] if b["status"] != "cancelled" and when(b)]
    if len(bills) < 2:
        return None
    anomalous = {a["bill_id"]: a for a in result.get("anomalies") or []}
    currencies = sorted({b["currency"] for b in bills})
    averages = {a["currency"]: a["amount"] for a in result.get("average") or []}
    fig = go.Figure()
    for i, currency in enumerate(currencies):
        colour = _COLOURS[i % len(_COLOURS)]
        mine = sorted((b for b in bills if b["currency"] == currency), key=when)
        xs = [when(b) for b in mine]
        fig.add_scatter(x=xs, y=[float(b["amount"]) for b in mine], mode="lines+markers", name=currency,
                        line={"color": colour, "width": 2}, marker={"size": 7, "color": colour},
                        customdata=[[f"#{b['id']}", format_money(b["amount"], currency), b["status"]] for b in mine],
                        hovertemplate="%{x}: %{customdata[1]} (bill %{customdata[0]}, %{customdata[2]})<extra></extra>")
        if currency in averages:
            fig.add_scatter(x=[xs[0], xs[-1]], y=[float(averages[currency])] * 2, mode="lines",
                            name=f"average {format_money(averages[currency], currency)}",
                            line={"color": colour, "width": 1, "dash": "dot"}, hoverinfo="skip")
        odd = [b for b in mine if b["id"] in anomalous]
        if odd:
            fig.add_scatter(x=[when(b) for b in odd], y=[float(b["amount"]) for b in odd],
                            mode="markers+text", name="unusually high",
                            text=[f"{anomalous[b['id']]['ratio']}×" for b in odd],
                            textposition="top center", textfont={"color": _ANOMALY},
                            marker={"size": 13, "color": "rgba(0,0,0,0)", "line": {"color": _ANOMALY, "width": 2.5}},
                            hovertemplate="%{x}: unusually high<extra></extra>")
    _layout(fig, f"{vendor['name']}: amount per bill", 280)
    _money_axis(fig, currencies, "y")
    fig.update_yaxes(range=[0, max(float(b["amount"]) for b in bills) * 1.25])
    return fig


# ----------------------------------------------------------------------------------------------
# links to the originals

_LINKED = re.compile(r"/documents/(\d+)\b")


def document_links(results: list[tuple[str, dict[str, Any]]], text: str = "") -> str:
    """Markdown links to the documents behind the bills listed or found in this turn, leaving out those
    the answer already links to; "" when there are none."""
    seen = {int(m) for m in _LINKED.findall(text or "")}
    links: list[str] = []
    for tool, result in results:
        if tool in ("find_bills", "upcoming"):
            items = [(b.get("document_id"), f"#{b['id']} {b['vendor']}") for b in result.get("bills") or []]
        elif tool == "search_documents":
            items = [(h.get("document_id"), h.get("vendor") or h.get("filename") or f"document {h.get('document_id')}")
                     for h in result.get("hits") or []]
        else:
            continue
        for doc, label in items:
            if doc is None or int(doc) in seen:
                continue
            seen.add(int(doc))
            links.append(f"[{label.replace('[', '(').replace(']', ')')}](/documents/{int(doc)})")
    if not links:
        return ""
    shown = links[:MAX_LINKS]
    more = f" and {len(links) - MAX_LINKS} more" if len(links) > MAX_LINKS else ""
    return "\n\nOriginals: " + " · ".join(shown) + more


# ----------------------------------------------------------------------------------------------
# one turn


@dataclass
class AnswerViews:
    """The tool results of one turn, and what they show under the answer."""

    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, tool: str, result: dict[str, Any], is_error: bool = False) -> None:
        if not is_error and isinstance(result, dict):
            self.results.append((tool, result))

    def links(self, text: str) -> str:
        try:
            return document_links(self.results, text)
        except Exception:  # a link line is a nicety: never fail the answer for it
            log.exception("document links failed")
            return ""

    def elements(self) -> list[cl.Element]:
        """Inline elements for the answer message (call inside a Chainlit context)."""
        out: list[cl.Element] = []
        for tool, result in self.results:
            try:
                out.extend(_elements(tool, result))
            except Exception:
                log.exception("answer view failed", extra={"tool": tool})
        return out

    @staticmethod
    def without_shown_tables(text: str, elements: list[cl.Element]) -> str:
        """The offline answer's markdown tables, dropped when a grid or card under it shows the same
        rows (the offline text stays complete for the CLI and for models reading the history; in the
        browser the sortable grid replaces the table instead of repeating it)."""
        if not any(isinstance(e, (cl.Dataframe, cl.CustomElement)) for e in elements):
            return text
        kept = [line for line in text.split("\n") if not line.lstrip().startswith("|")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"


def warm_up() -> None:
    """Draw one chart, so plotly loads its validators and templates now: the first chart costs ~17 MB
    once per process. At start-up that is part of the server's baseline, instead of a step in its
    memory in the middle of the day (it was the ~20 MB step every run of benchmarks/load_chat.py showed)."""
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    _layout(fig, "warm-up", 300)
    _money_axis(fig, ["USD"], "y")
    fig.to_json()


def _chart(name: str, fig: go.Figure, size: str = "medium") -> cl.Plotly:
    element = cl.Plotly(name=name, figure=fig, display="inline", size=size)
    # the frontend reads the plot's config from the same JSON: no tool bar over a small chart
    element.content = json.dumps({**json.loads(element.content), "config": {"displayModeBar": False}})
    return element


def _elements(tool: str, result: dict[str, Any]) -> list[cl.Element]:
    # Element names end in .json where the frontend needs the content as JSON: a resumed chat fetches it
    # from /attachments/..., whose content type comes from the name (the grid wants text, charts JSON).
    if tool in ("find_bills", "upcoming"):
        table = bill_table(tool, result)
        return [cl.Dataframe(name="bills", data=table, display="inline")] if table is not None else []
    if tool == "summarize_spending":
        fig = spending_chart(result)
        return [_chart("spending.json", fig)] if fig is not None else []
    if tool == "vendor_profile":
        out: list[cl.Element] = []
        props = vendor_card(result)
        if props is not None:
            out.append(cl.CustomElement(name=CARD_ELEMENT, props=props, display="inline"))
        fig = vendor_chart(result)
        if fig is not None:
            out.append(_chart("vendor-amounts.json", fig, size="small"))
        return out
    return []
