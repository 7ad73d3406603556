"""The `assistant` command, run as a user would run it, on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.factories import bill_text, image_only_pdf, text_pdf


def cli(tmp_path, database_url, *args):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_ingest_then_ask(tmp_path, database_url):
    today = datetime.now(UTC).date()  # the CLI judges "today" in ASSISTANT_TIMEZONE (UTC by default)
    good = tmp_path / "power.pdf"
    good.write_bytes(text_pdf(bill_text("Pacific Power", "120.50", today + timedelta(days=3))))
    text = tmp_path / "water.txt"
    text.write_text(bill_text("City Water", "45.10", today + timedelta(days=40), invoice="W-1"))
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(image_only_pdf())

    run = cli(tmp_path, database_url, "ingest", str(good), str(text), str(scan), "--user", "alice", "--json")
    assert run.returncode == 1, run.stderr  # one file could not be filed
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["filed"] for r in records] == [True, True, False]
    assert records[0]["bill"]["vendor"] == "Pacific Power" and records[0]["bill"]["amount"] == "120.50"
    assert "no text layer" in records[2]["error"]

    again = cli(tmp_path, database_url, "ingest", str(good), "--user", "alice")
    assert again.returncode == 0 and "already filed" in again.stdout

    ask = cli(tmp_path, database_url, "ask", "what's due in the next 7 days?", "--user", "alice", "--json")
    assert ask.returncode == 0, ask.stderr
    out = json.loads(ask.stdout)
    assert out["provider"] == "offline" and Decimal(out["cost"]) == 0
    assert out["tool_calls"][0]["name"] == "find_bills"
    assert "Pacific Power" in out["answer"] and "City Water" not in out["answer"]
    assert out["tool_calls"][0]["result"]["totals"] == [{"currency": "USD", "count": 1, "amount": "120.50"}]

    plain = cli(tmp_path, database_url, "ask", "who do I pay?", "--user", "bob")
    assert plain.returncode == 0 and "no vendors yet" in plain.stdout  # bob sees none of alice's


def test_db_upgrade_is_idempotent(tmp_path, database_url):
    for _ in range(2):
        run = cli(tmp_path, database_url, "db", "upgrade")
        assert run.returncode == 0 and "up to date" in run.stdout, run.stderr


def test_reindex_puts_every_filed_document_back_into_search(tmp_path, database_url):
    bill = tmp_path / "water.txt"
    bill.write_text(bill_text("City Water", "45.10", datetime.now(UTC).date(), invoice="W-9")
                    + "Water and sewer service, 14 cubic meters\n")
    assert cli(tmp_path, database_url, "ingest", str(bill), "--user", "alice").returncode == 0
    nothing = cli(tmp_path, database_url, "reindex")
    assert nothing.returncode == 0 and "indexed 0 document(s)" in nothing.stdout, nothing.stderr
    # the index is lost (e.g. a backup restored without it): --all rebuilds it from the database
    import shutil

    shutil.rmtree(tmp_path / "data" / "chroma")
    run = cli(tmp_path, database_url, "reindex", "--all")
    assert run.returncode == 0 and "indexed 1 document(s)" in run.stdout, run.stderr
    ask = cli(tmp_path, database_url, "ask", "find my water bill", "--user", "alice", "--json")
    assert ask.returncode == 0, ask.stderr
    hits = json.loads(ask.stdout)["tool_calls"][0]["result"]["hits"]
    assert hits and hits[0]["vendor"] == "City Water"


def test_ingest_reads_every_kind_of_bill(tmp_path, database_url):
    from tests.factories import bill_email, bill_photo, scanned_pdf

    def ocr_bill(vendor, number, amount, due):
        return f"{vendor}\nInvoice number: {number}\nAmount due: ${amount}\nDue date: {due}"

    files = {  # the names lie: the type is decided by the content
        "water.txt": bill_text("City Water", "45.10", datetime(2026, 12, 10).date(), invoice="W-1").encode(),
        "mail.txt": bill_email("Your bill is attached.", text_pdf(ocr_bill("Harbor Gas Co", "G-7", "61.00", "2026-12-08")),
                               sender="Harbor Gas Co <billing@harborgas.example>"),
        "internet.bin": text_pdf(bill_text("FastLink Broadband", "59.99", datetime(2026, 12, 3).date(), invoice="F-9")),
        "scan.pdf": scanned_pdf(ocr_bill("Northwind Energy Ltd", "NW-4471", "63.40", "2026-12-14")),
        "photo.pdf": bill_photo(ocr_bill("Summit Phone Co", "SP-310", "35.75", "2026-12-22"), "jpg"),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    run = cli(tmp_path, database_url, "ingest", *paths, "--user", "alice", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    records = {r["file"].rsplit("/", 1)[-1]: r for r in map(json.loads, run.stdout.splitlines())}
    got = {name: (r["bill"]["vendor"], r["bill"]["amount"], r["bill"]["due_date"]) for name, r in records.items()}
    assert got == {
        "water.txt": ("City Water", "45.10", "2026-12-10"),
        "mail.txt": ("Harbor Gas Co", "61.00", "2026-12-08"),
        "internet.bin": ("FastLink Broadband", "59.99", "2026-12-03"),
        "scan.pdf": ("Northwind Energy Ltd", "63.40", "2026-12-14"),
        "photo.pdf": ("Summit Phone Co", "35.75", "2026-12-22"),
    }
    assert {name: r["mime"] for name, r in records.items()} == {
        "water.txt": "text/plain", "mail.txt": "message/rfc822", "internet.bin": "application/pdf",
        "scan.pdf": "application/pdf", "photo.pdf": "image/jpeg"}
