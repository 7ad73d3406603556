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
