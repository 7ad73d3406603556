"""Which vendor a bill is from: exact name or alias, the customer account number seen on an
earlier bill of the same vendor, else a fuzzy match (rapidfuzz) with the thresholds of
`config/resolution.yaml`. An ambiguous match is returned as such, for the user to decide."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.graph.bills import find_vendor, normalize_name, vendor_scores
from assistant.graph.models import Document, Vendor, VendorAlias
from assistant.settings import config_dir


@dataclass(frozen=True)
class Thresholds:
    accept: float
    ask: float


@functools.lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    raw = yaml.safe_load((config_dir() / "resolution.yaml").read_text())
    return Thresholds(float(raw["accept"]), float(raw["ask"]))


@dataclass
class Resolution:
    vendor: Vendor | None  # the vendor, when the match is sure
    how: str  # "name", "alias", "account", "fuzzy", "new", "ambiguous"
    score: float = 100.0
    candidates: list[tuple[Vendor, float]] = field(default_factory=list)  # when ambiguous


async def resolve_vendor(session: AsyncSession, owner_id: str, name: str,
                         account_number: str | None = None) -> Resolution:
    exact = await find_vendor(session, owner_id, name)
    if exact is not None:
        how = "name" if exact.normalized_name == normalize_name(name) else "alias"
        return Resolution(exact, how)
    if account_number:
        by_account = await session.scalar(
            select(Vendor).join(Document, Document.vendor_id == Vendor.id)
            .where(Document.owner_id == owner_id, Document.account_number == account_number).limit(1))
        # The same customer number says "same vendor" only when the names are not plainly different
        # (two vendors can number their customers alike).
        if by_account is not None and vendor_scores([by_account], name)[0][1] >= 50:
            return Resolution(by_account, "account")
    vendors = list((await session.scalars(select(Vendor).where(Vendor.owner_id == owner_id))).all())
    scored = vendor_scores(vendors, name)
    t = thresholds()
    sure = [pair for pair in scored if pair[1] >= t.accept]
    if len(sure) == 1 or (sure and sure[0][1] - sure[1][1] >= 5):
        return Resolution(sure[0][0], "fuzzy", sure[0][1])
    close = [pair for pair in scored if pair[1] >= t.ask]
    if close:
        return Resolution(None, "ambiguous", close[0][1], close[:3])
    return Resolution(None, "new", 0.0)


async def add_alias(session: AsyncSession, owner_id: str, vendor: Vendor, alias: str) -> None:
    """Remember that `alias` means `vendor` (a user's correction becomes an alias)."""
    key = normalize_name(alias)
    if not key or key == vendor.normalized_name:
        return
    exists = await session.scalar(select(VendorAlias).where(VendorAlias.owner_id == owner_id,
                                                            VendorAlias.normalized_alias == key))
    if exists is None:
        session.add(VendorAlias(owner_id=owner_id, vendor_id=vendor.id, alias=alias.strip()[:200],
                                normalized_alias=key))
        await session.flush()
