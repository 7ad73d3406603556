"""Document search (assistant.documents.index): embedded Chroma and a real `chroma run` server, offline."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.documents import index as index_mod
from assistant.documents.index import DocumentIndex, EmbeddingModelError, LocalMiniLM, chunk_text
from assistant.settings import Settings
from tests.conftest import chroma_running, free_port

ALICE, BOB, CAROL, DORA = "alice", "bob", "carol", "dora"  # the server lives for the module

BILLS = {
    (ALICE, 1): ("Northside Energy",
                 "Northside Energy - electricity statement. Account 4471-22. Meter reading 18342 kWh. "
                 "Electricity used this period: 412 kWh at 0.19 per kWh. Power supply charge 78.28, "
                 "network charge 12.40. Amount due 90.68 USD by 2026-12-05."),
    (ALICE, 2): ("Clearwater Utilities",
                 "Clearwater Utilities water and sewer bill. Water consumption 14 cubic metres. "
                 "Sewer service charge 21.00, water usage 31.50. Total due 52.50 USD by 2026-12-12."),
    (ALICE, 3): ("FiberLink",
                 "FiberLink broadband invoice. Fibre internet 500 Mbps plan, router rental, monthly "
                 "data unlimited. Amount due 49.99 USD by 2026-12-01. Thank you for surfing with us."),
    (BOB, 4): ("Voltaic Power Co",
               "Voltaic Power Co electricity bill. Power bill for electricity used: 640 kWh. "
               "Amount due 131.20 USD by 2026-12-03."),
}


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection leaves this machine, and Chroma's downloading embedding function is never used."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                local = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = False
            if not local:
                raise AssertionError(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("Chroma's default embedding function tried to download its model")

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_download_model_if_not_exists", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real Chroma server (`chroma run`) on a free port; stopped after the module."""
    with chroma_running(free_port(), tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def document_index(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentIndex:
    settings = Settings(data_dir=tmp_path, environment="test")
    if request.param == "server":
        return DocumentIndex(settings, chroma_url=request.getfixturevalue("chroma_server"))
    return DocumentIndex(settings)


async def _index_bills(idx: DocumentIndex) -> None:
    for (owner, doc_id), (vendor, text) in BILLS.items():
        assert await idx.add(owner, doc_id, vendor, text) == 1


async def test_search_finds_the_right_bill_for_its_owner_only(document_index: DocumentIndex) -> None:
    await _index_bills(document_index)

    found = await document_index.search(ALICE, "power bill")
    assert [r["document_id"] for r in found][:1] == [1]
    assert {r["document_id"] for r in found} == {1, 2, 3}  # one entry per document, Bob's never
    assert found[0]["vendor"] == "Northside Energy"
    assert "412 kWh" in found[0]["snippet"]
    assert all(-1.0 <= r["score"] <= 1.0 for r in found)
    assert [r["score"] for r in found] == sorted((r["score"] for r in found), reverse=True)

    assert (await document_index.search(ALICE, "internet broadband"))[0]["document_id"] == 3
    assert (await document_index.search(ALICE, "water", limit=1))[0]["document_id"] == 2
    for query in ("power bill", "electricity", "Voltaic Power Co", "kWh"):
        assert all(r["document_id"] != 4 for r in await document_index.search(ALICE, query))

    bob = await document_index.search(BOB, "power bill")
    assert [r["document_id"] for r in bob] == [4]

    assert await document_index.search(CAROL, "power bill") == []
    assert await document_index.search(ALICE, "   ") == []


async def test_reindexing_replaces_chunks_and_groups_per_document(document_index: DocumentIndex) -> None:
    long_text = " ".join(f"Line {n}: electricity power charge {n}.00 for meter M-{n}." for n in range(120))
    chunks = await document_index.add(DORA, 7, "Northside Energy", long_text)
    assert chunks == len(chunk_text(long_text)) > 3
    found = await document_index.search(DORA, "electricity power charge", limit=5)
    assert [r["document_id"] for r in found] == [7]  # many matching chunks, one result

    assert await document_index.add(DORA, 7, "Northside Energy", "Short water statement.") == 1
    found = await document_index.search(DORA, "electricity power charge")
    assert [r["snippet"] for r in found] == ["Short water statement."]

    await document_index.remove(DORA, 7)
    assert await document_index.search(DORA, "water") == []


def test_chunks_overlap_and_stay_near_800_characters() -> None:
    text = " ".join(f"word{n}" for n in range(1000))
    chunks = chunk_text(text)
    assert all(len(c) <= 800 for c in chunks) and all(len(c) > 300 for c in chunks[:-1])
    for a, b in zip(chunks, chunks[1:]):
        assert b.split()[0] in a.split()  # each chunk starts inside the previous one
    assert " ".join(chunks).split()[-1] == "word999"
    assert chunk_text("") == [] and chunk_text("  short  ") == ["short"]


def test_embeddings_are_unit_vectors_independent_of_batch_padding() -> None:
    ef = LocalMiniLM()
    short, long = "power bill", "Electricity statement " * 40
    alone = np.array(ef([short])[0])
    batched = ef([long, short, "water"])
    assert alone.shape == (384,)
    assert np.allclose([np.linalg.norm(v) for v in batched], 1.0, atol=1e-5)
    assert np.allclose(alone, batched[1], atol=1e-4)  # padding to the longest changes nothing
    sims = [float(alone @ np.array(ef([t])[0])) for t in ("electricity invoice", "fibre internet plan")]
    assert sims[0] > sims[1]


def test_embedding_runs_on_one_thread_that_does_not_spin() -> None:
    # ONNX Runtime's default (a spinning thread per core) competes with the server's event loop for
    # both cores on each pasted bill.
    options = LocalMiniLM()._session.get_session_options()
    assert options.intra_op_num_threads == options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    tokenizer = tmp_path / "tokenizer.json"
    shutil.copy(index_mod.default_tokenizer_path(), tokenizer)
    with tokenizer.open("a") as fh:
        fh.write(" ")
    with pytest.raises(EmbeddingModelError, match="sha256"):
        LocalMiniLM(tokenizer_path=tokenizer)
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        LocalMiniLM(model_path=tmp_path / "missing.onnx")
