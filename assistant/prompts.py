"""Prompts live in `prompts/` as versioned text files and are loaded by name."""

from __future__ import annotations

import functools

from assistant import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8").strip()
