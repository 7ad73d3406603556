"""Which providers this installation offers, built from settings.

A provider with no key (openai-compatible: no base URL) is not offered. A priced provider whose
model has no price in `config/pricing.yaml` is refused, with the reason kept for the user to see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.providers.base import Provider
from assistant.providers.chain import FallbackChain
from assistant.providers.offline import OfflineProvider
from assistant.providers.pricing import price_for
from assistant.settings import Settings

KNOWN = ("openai", "anthropic", "gemini", "openai-compatible", "offline")


@dataclass
class ProviderSetup:
    offered: dict[str, Provider] = field(default_factory=dict)  # in the configured order
    refused: dict[str, str] = field(default_factory=dict)  # name -> why it is not offered
    wrap: Callable[[Provider], Provider] = staticmethod(lambda p: p)  # e.g. the budget around each call

    def chain(self, settings: Settings, first: str | None = None, model: str | None = None) -> FallbackChain:
        """The offered providers in order, `first` moved to the front (with `model` if given)."""
        order = list(self.offered)
        if first in self.offered:
            order.remove(first)
            order.insert(0, first)
        providers = [self.offered[n] for n in order]
        if model and first in self.offered and model != self.offered[first].model:
            chosen = build_one(settings, first, model)
            providers[0] = self.wrap(chosen) if chosen is not None else providers[0]
        return FallbackChain(providers, settings.provider_max_retries, settings.provider_backoff_s)


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_one(settings: Settings, name: str, model: str | None = None) -> Provider | None:
    """One provider, or None when it is not configured or its model cannot be priced."""
    if name == "offline":
        return OfflineProvider()
    if name == "openai-compatible":
        if not settings.openai_compatible_base_url:
            return None
        model = model or settings.openai_compatible_model
    else:
        key = {"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
               "gemini": settings.google_api_key}[name]
        if key is None:
            return None
        model = model or {"openai": settings.openai_model, "anthropic": settings.anthropic_model,
                          "gemini": settings.gemini_model}[name]
    price = price_for(name, model)
    if price is None:
        raise UnpricedModel(name, model)
    timeout = settings.provider_timeout_s
    if name in ("openai", "openai-compatible"):
        from assistant.providers.openai import OpenAIProvider

        base_url = settings.openai_base_url if name == "openai" else settings.openai_compatible_base_url
        key = settings.openai_api_key if name == "openai" else settings.openai_compatible_api_key
        return OpenAIProvider(name=name, model=model, api_key=_secret(key), base_url=base_url,
                              timeout=timeout, price=price)
    if name == "anthropic":
        from assistant.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model=model, api_key=_secret(settings.anthropic_api_key),
                                 base_url=settings.anthropic_base_url, timeout=timeout, price=price)
    from assistant.providers.gemini import GeminiProvider

    return GeminiProvider(model=model, api_key=_secret(settings.google_api_key),
                          base_url=settings.gemini_base_url, timeout=timeout, price=price)


class UnpricedModel(Exception):
    def __init__(self, provider: str, model: str):
        super().__init__(f"{provider} model {model!r} has no price in config/pricing.yaml, so its cost "
                         "cannot be counted against the limits; add its price or choose a listed model")


def setup_providers(settings: Settings, wrap: Callable[[Provider], Provider] | None = None) -> ProviderSetup:
    """The offered providers, each passed through `wrap` (the budget) if given."""
    setup = ProviderSetup(wrap=wrap) if wrap else ProviderSetup()
    for name in settings.provider_order():
        if name not in KNOWN:
            setup.refused[name] = f"unknown provider {name!r} (known: {', '.join(KNOWN)})"
            continue
        try:
            provider = build_one(settings, name)
        except UnpricedModel as exc:
            setup.refused[name] = str(exc)
            continue
        if provider is not None:
            setup.offered[name] = setup.wrap(provider)
    if not setup.offered:
        setup.offered["offline"] = setup.wrap(OfflineProvider())
    return setup
