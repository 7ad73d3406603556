"""Model prices from `config/pricing.yaml`, and the cost of a call from its usage (exact Decimals)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from assistant.messages import Usage
from assistant.settings import config_dir

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Price:
    input: Decimal
    output: Decimal
    cached: Decimal

    def cost(self, usage: Usage) -> Decimal:
        """Cached input tokens are part of the input count and billed at the cached rate."""
        fresh = max(usage.input_tokens - usage.cached_tokens, 0)
        return (fresh * self.input + usage.cached_tokens * self.cached + usage.output_tokens * self.output) / MILLION


@functools.lru_cache(maxsize=4)
def load_prices(path: Path | None = None) -> dict[str, dict[str, Price]]:
    raw = yaml.safe_load((path or config_dir() / "pricing.yaml").read_text()) or {}
    return {
        provider: {model: Price(*(Decimal(str(p[k])) for k in ("input", "output", "cached")))
                   for model, p in (models or {}).items()}
        for provider, models in raw.items()
    }


def price_for(provider: str, model: str) -> Price | None:
    models = load_prices().get(provider, {})
    return models.get(model) or models.get("*")
