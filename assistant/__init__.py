"""The bill assistant: a chat-first assistant for a person's bills."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
