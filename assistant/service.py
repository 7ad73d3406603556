"""Wiring: one `Services` per process holds the engine, the tool registry, the provider and the agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from assistant.agent import Agent
from assistant.budget import Budget
from assistant.budget import tokens
from assistant.budget.guard import Budgeted
from assistant.db import create_engine, session_factory
from assistant.documents.index import DocumentIndex
from assistant.graph.users import ensure_user, seed_users
from assistant.messages import Attachment
from assistant.providers.base import Provider
from assistant.providers.pricing import Price, price_for
from assistant.providers.registry import ProviderSetup, setup_providers
from assistant.settings import Settings
from assistant.toolkit import ToolContext, ToolRegistry, load_registry


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    registry: ToolRegistry
    providers: ProviderSetup
    agent: Agent
    budget: Budget
    index: DocumentIndex

    @property
    def provider(self) -> Provider:
        return self.agent.provider

    def today(self) -> date:
        return datetime.now(self.settings.tz).date()

    def tool_context(self, user_id: str, attachments: list[Attachment] | None = None,
                     today: date | None = None) -> ToolContext:
        return ToolContext(
            user_id=user_id, sessions=self.sessions, settings=self.settings,
            today=today or self.today(), attachments={a.id: a for a in attachments or []}, budget=self.budget,
            index=self.index,
        )

    async def user_id(self, identifier: str) -> str:
        """The id of the user called `identifier`, created without a password if missing (CLI use)."""
        async with self.sessions() as session, session.begin():
            return (await ensure_user(session, identifier)).id

    async def seed_users(self) -> None:
        await seed_users(self.sessions, self.settings.user_entries())

    async def close(self) -> None:
        await self.budget.close()
        await self.engine.dispose()


FREE = Price(Decimal("0"), Decimal("0"), Decimal("0"))


def build_services(settings: Settings, provider: Provider | None = None) -> Services:
    """Everything one process needs. `provider` replaces the configured fallback chain (tests);
    every provider, given or configured, is wrapped by the budget."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    registry = load_registry()
    tokens.configure(settings.data_dir.resolve() / "cache" / "tiktoken")
    budget = Budget(sessions, settings)

    def budgeted(p: Provider) -> Provider:
        return Budgeted(p, budget, price_for(p.name, p.model) or FREE)

    providers = setup_providers(settings, budgeted)
    if provider is not None and not isinstance(provider, Budgeted) and not hasattr(provider, "providers"):
        provider = budgeted(provider)
    agent = Agent(provider or providers.chain(settings), registry, settings.agent_max_steps,
                  max_output_tokens=settings.max_output_tokens, temperature=settings.temperature,
                  stream=settings.provider_streaming, conversation_turns=settings.conversation_turns)
    return Services(settings=settings, engine=engine, sessions=sessions, registry=registry,
                    providers=providers, agent=agent, budget=budget,
                    index=DocumentIndex(settings, chroma_url=settings.chroma_url))
