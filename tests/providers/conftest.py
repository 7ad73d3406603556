"""Fixtures for the vendor tests: each fake vendor server, and the real provider pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from assistant.providers.pricing import price_for
from assistant.service import Services, build_services
from assistant.settings import Settings
import importlib

from tests.fakes import FakeVendor

KEY = "sk-test-SECRET-KEY-0123456789"


@dataclass
class Vendor:
    name: str  # provider name in settings
    fake_class: str  # "module:Class" of its fake server
    settings: Callable[[str], dict]  # fake url -> settings that point the provider at it

    @property
    def fake(self) -> type[FakeVendor]:
        module, _, cls = self.fake_class.partition(":")
        return getattr(importlib.import_module(module), cls)


VENDORS = {
    "openai": Vendor("openai", "tests.fakes.openai_server:FakeOpenAI",
                     lambda url: {"openai_api_key": KEY, "openai_base_url": f"{url}/v1"}),
    "openai-compatible": Vendor("openai-compatible", "tests.fakes.openai_server:FakeOpenAI",
                                lambda url: {"openai_compatible_base_url": f"{url}/v1"}),
    "anthropic": Vendor("anthropic", "tests.fakes.anthropic_server:FakeAnthropic",
                        lambda url: {"anthropic_api_key": KEY, "anthropic_base_url": url}),
    "gemini": Vendor("gemini", "tests.fakes.gemini_server:FakeGemini",
                     lambda url: {"google_api_key": KEY, "gemini_base_url": url}),
}


def vendor_settings(tmp_path, vendor: Vendor, url: str, **extra) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                    environment="test", users="", providers=f"{vendor.name},offline",
                    provider_backoff_s=0.01, provider_timeout_s=2, **vendor.settings(url), **extra)


@pytest.fixture(params=sorted(VENDORS))
def vendor(request) -> Vendor:
    return VENDORS[request.param]


@pytest.fixture
async def fake(vendor) -> AsyncIterator[FakeVendor]:
    server = await vendor.fake().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def vendor_services(tmp_path, vendor, fake) -> AsyncIterator[Services]:
    from assistant.graph.migrate import upgrade

    settings = vendor_settings(tmp_path, vendor, fake.url)
    await upgrade(settings.database_url)
    services = build_services(settings)
    assert list(services.providers.offered) == [vendor.name, "offline"], services.providers.refused
    assert price_for(vendor.name, services.provider.model) is not None
    try:
        yield services
    finally:
        await services.close()
