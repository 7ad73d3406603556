"""Which providers are offered, from settings alone."""

from __future__ import annotations

import pytest

from assistant.providers.chain import FallbackChain
from assistant.providers.pricing import Price, price_for
from assistant.providers.registry import UnpricedModel, setup_providers
from assistant.settings import Settings
from assistant.messages import Usage
from decimal import Decimal


def settings(**kw) -> Settings:
    return Settings(environment="test", users="", **kw)


def test_no_key_means_offline_only():
    setup = setup_providers(settings())
    assert list(setup.offered) == ["offline"] and setup.refused == {}


def test_only_an_ollama_url_is_enough():
    setup = setup_providers(settings(openai_compatible_base_url="http://127.0.0.1:11434/v1",
                                     openai_compatible_model="qwen2.5:7b"))
    assert list(setup.offered) == ["openai-compatible", "offline"]
    assert setup.offered["openai-compatible"].model == "qwen2.5:7b"  # local models are free: any name is priced


@pytest.mark.parametrize("field, name", [("openai_api_key", "openai"), ("anthropic_api_key", "anthropic"),
                                         ("google_api_key", "gemini")])
def test_only_one_key_is_enough(field, name):
    setup = setup_providers(settings(**{field: "k"}))
    assert list(setup.offered) == [name, "offline"]


def test_an_empty_environment_value_means_unset(monkeypatch):
    # a blanked line in .env, or compose passing a variable .env leaves empty
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("COST_LIMIT_PER_DAY", "")
    loaded = settings()
    assert loaded.openai_api_key is None and loaded.cost_limit_per_day == Decimal("50.00")
    assert list(setup_providers(loaded).offered) == ["offline"]


def test_order_follows_settings_and_offline_can_be_left_out():
    setup = setup_providers(settings(openai_api_key="k", anthropic_api_key="k", providers="anthropic,openai"))
    assert list(setup.offered) == ["anthropic", "openai"]
    chain = setup.chain(settings(openai_api_key="k", anthropic_api_key="k"), first="openai")
    assert [p.name for p in chain.providers] == ["openai", "anthropic"]


def test_a_model_without_a_price_is_refused_with_the_reason():
    setup = setup_providers(settings(openai_api_key="k", openai_model="gpt-99-ultra"))
    assert list(setup.offered) == ["offline"]
    assert "gpt-99-ultra" in setup.refused["openai"] and "pricing.yaml" in setup.refused["openai"]
    ok = setup_providers(settings(openai_api_key="k"))
    with pytest.raises(UnpricedModel):
        ok.chain(settings(openai_api_key="k"), first="openai", model="gpt-99-ultra")
    assert "unknown provider" in setup_providers(settings(providers="mistral,offline")).refused["mistral"]


def test_every_default_model_has_a_price():
    s = settings()
    for name, model in [("openai", s.openai_model), ("anthropic", s.anthropic_model), ("gemini", s.gemini_model)]:
        assert price_for(name, model) is not None, name


def test_cost_counts_cached_input_at_the_cached_rate():
    p = Price(Decimal("2.00"), Decimal("8.00"), Decimal("0.50"))
    assert p.cost(Usage(1_000_000, 1_000_000, 0)) == Decimal("10")
    assert p.cost(Usage(1_000_000, 0, 1_000_000)) == Decimal("0.5")
    assert p.cost(Usage(3, 1, 1)) == Decimal("0.0000125")  # 2 fresh x 2.00 + 1 cached x 0.50 + 1 out x 8.00


async def test_backoff_is_bounded_and_jittered():
    from assistant.providers.base import RetryableError

    slept = []

    class Down:
        name, model = "openai", "m"

        async def stream(self, request):
            raise RetryableError("failed with HTTP 503", 503)
            yield  # pragma: no cover

    async def sleep(seconds):
        slept.append(seconds)

    chain = FallbackChain([Down()], max_retries=3, backoff_s=0.5, sleep=sleep)
    with pytest.raises(Exception, match="no model provider could answer: OpenAI failed with HTTP 503 after 4 tries"):
        async for _ in chain.stream(None):
            pass
    assert len(slept) == 3 and all(0 <= s <= 0.5 * 2 ** i for i, s in enumerate(slept))
