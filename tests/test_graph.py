"""Migrations and the life graph models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import inspect, select

from assistant.db import create_engine, session_factory
from assistant.graph import bills
from assistant.graph.migrate import downgrade, upgrade
from assistant.graph.models import Commitment, Document, LlmUsage, User, Vendor, VendorAlias
from assistant.graph.users import authenticate, ensure_user, seed_users

CHAINLIT_COLUMNS = {
    # every column chainlit 2.12's data/sql_alchemy.py writes (StepDict / ElementDict / ThreadDict keys)
    "steps": {"id", "name", "type", "threadId", "parentId", "command", "modes", "streaming", "waitForAnswer",
              "isError", "metadata", "tags", "input", "output", "createdAt", "start", "end", "generation",
              "showInput", "defaultOpen", "autoCollapse", "language", "icon"},
    "elements": {"id", "threadId", "type", "url", "chainlitKey", "name", "display", "objectKey", "size", "page",
                 "language", "forId", "mime", "props", "autoPlay", "playerConfig"},
    "threads": {"id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata"},
    "users": {"id", "identifier", "createdAt", "metadata"},
    "feedbacks": {"id", "forId", "threadId", "value", "comment"},
}


async def test_migrations_create_every_table_and_column(database_url):
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)}
                                                for t in inspect(c).get_table_names()})
    await engine.dispose()
    for table in ("vendors", "vendor_aliases", "documents", "commitments", "llm_usage"):
        assert table in tables
    for table, columns in CHAINLIT_COLUMNS.items():
        assert columns <= tables[table], f"{table} lacks {columns - tables[table]}"


async def test_chainlit_step_columns_match_installed_chainlit():
    """If chainlit is upgraded and writes a new step/element key, this fails before history silently breaks."""
    from chainlit.element import ElementDict
    from chainlit.step import StepDict

    step_keys = set(StepDict.__annotations__) - {"feedback"}
    assert step_keys <= CHAINLIT_COLUMNS["steps"]
    element_keys = set(ElementDict.__annotations__) - {"path"}
    assert element_keys <= CHAINLIT_COLUMNS["elements"]


async def test_downgrade_and_upgrade_again(database_url):
    await downgrade(database_url, "base")
    await upgrade(database_url)
    await upgrade(database_url)  # idempotent


async def test_models_round_trip(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        user = await ensure_user(s, "alice")
        vendor = Vendor(owner_id=user.id, name="Pacific Power", normalized_name="pacific power", category="utilities")
        s.add(vendor)
        await s.flush()
        s.add(VendorAlias(owner_id=user.id, vendor_id=vendor.id, alias="PacifiCorp", normalized_alias="pacificorp"))
        doc = Document(owner_id=user.id, vendor_id=vendor.id, sha256="a" * 64, source="paste", filename=None,
                       mime="text/plain", size_bytes=10, text="hello", fields={"vendor": "Pacific Power"},
                       confidence=Decimal("0.875"))
        s.add(doc)
        await s.flush()
        s.add(Commitment(owner_id=user.id, vendor_id=vendor.id, document_id=doc.id, amount=Decimal("1234567.89"),
                         currency="USD", issue_date=date(2026, 11, 1), due_date=date(2026, 11, 28), status="due"))
        s.add(LlmUsage(owner_id=user.id, provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=5,
                       cost=Decimal("0.000123"), reserved_cost=Decimal("0.001"), status="settled"))
        user_id = user.id
    async with sessions() as s:
        c = await s.scalar(select(Commitment).where(Commitment.owner_id == user_id))
        assert c.amount == Decimal("1234567.89") and isinstance(c.amount, Decimal)
        assert c.due_date == date(2026, 11, 28) and c.issue_date == date(2026, 11, 1)
        assert c.vendor.name == "Pacific Power"
        d = await s.get(Document, c.document_id)
        assert d.fields == {"vendor": "Pacific Power"} and d.confidence == Decimal("0.875")
        u = await s.scalar(select(LlmUsage))
        assert u.cost == Decimal("0.000123")
        assert (await bills.find_vendor(s, user_id, "PacifiCorp")).id == c.vendor_id
    await engine.dispose()


async def test_passwords_are_hashed_and_checked(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    await seed_users(sessions, [("carol", "s3cret")])
    async with sessions() as s:
        carol = await s.scalar(select(User).where(User.identifier == "carol"))
        assert carol.password_hash.startswith("$2") and "s3cret" not in carol.password_hash
    assert (await authenticate(sessions, "carol", "s3cret")).identifier == "carol"
    assert await authenticate(sessions, "carol", "wrong") is None
    assert await authenticate(sessions, "nobody", "s3cret") is None
    await seed_users(sessions, [("carol", "n3w")])  # changing the password in settings takes effect
    assert await authenticate(sessions, "carol", "s3cret") is None
    assert await authenticate(sessions, "carol", "n3w") is not None
    await engine.dispose()


async def test_queries_are_scoped_to_their_owner(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        a = await ensure_user(s, "a")
        b = await ensure_user(s, "b")
        for owner in (a, b):
            await bills.file_bill(
                s, owner.id, bills.NewBill("Water Co", Decimal("10.00"), "USD", date(2026, 12, 1)),
                bills.NewDocument(sha256=owner.id.replace("-", "")[:32] * 2, source="paste", filename=None,
                                  mime="text/plain", size_bytes=1, text="x"),
            )
        a_id, b_id = a.id, b.id
    async with sessions() as s:
        mine = await bills.find_bills(s, a_id, date(2026, 11, 21), bills.BillQuery())
        assert [x.owner_id for x in mine.bills] == [a_id]
        theirs = mine.bills[0].id
        other = await bills.find_bills(s, b_id, date(2026, 11, 21), bills.BillQuery())
        other_id = other.bills[0].id
    async with sessions() as s, s.begin():
        try:
            await bills.mark_paid(s, a_id, other_id, date(2026, 11, 21))
            raise AssertionError("user a marked user b's bill paid")
        except bills.GraphError:
            pass
        assert (await bills.get_bill(s, b_id, theirs)) is None
    await engine.dispose()
