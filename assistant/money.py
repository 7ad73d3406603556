"""Money and date formatting for people: exact Decimals, no floats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$", "AUD": "A$"}


def format_money(amount: Decimal | str, currency: str) -> str:
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,.2f}"
    symbol = _SYMBOL.get(currency.upper())
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency.upper()}"


def format_date(value: date | str | None) -> str:
    if value is None:
        return "no due date"
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d:%a} {d.day} {d:%b %Y}"
