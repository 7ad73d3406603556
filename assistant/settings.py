"""One settings object: `config/settings.yaml` gives the defaults, environment variables override.

Every environment variable the app reads is a field here (see README.md, "Configuration");
no other module reads `os.environ`.
"""

from __future__ import annotations

import functools
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from assistant import PROJECT_ROOT


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        yaml_file=None,
        # `OPENAI_API_KEY=` (a blanked line in .env, compose passing an empty value) means unset, not an
        # empty key that would offer the provider or an empty limit that would not parse
        env_ignore_empty=True,
    )

    environment: Literal["development", "production", "test"] = Field(
        "development", validation_alias=_env("ENVIRONMENT", "environment")
    )
    data_dir: Path = Field(Path("./data"), validation_alias=_env("ASSISTANT_DATA_DIR", "data_dir"))
    # `assistant backup` (assistant/backup.py): where archives go (default `<data dir>/backups`) and how many
    # of the newest are kept (0: all)
    backup_dir_override: Path | None = Field(None, validation_alias=_env("BACKUP_DIR", "backup_dir"))
    backup_keep: int = Field(7, ge=0, validation_alias=_env("BACKUP_KEEP", "backup_keep"))
    database_url_override: str | None = Field(
        None, validation_alias=_env("DATABASE_URL", "database_url")
    )
    timezone: str = Field("UTC", validation_alias=_env("ASSISTANT_TIMEZONE", "timezone"))
    host: str = Field("127.0.0.1", validation_alias=_env("ASSISTANT_HOST", "host"))
    port: int = Field(8000, validation_alias=_env("ASSISTANT_PORT", "port"))
    users: str = Field("", validation_alias=_env("ASSISTANT_USERS", "users"))
    auth_secret: SecretStr | None = Field(
        None, validation_alias=_env("CHAINLIT_AUTH_SECRET", "auth_secret")
    )
    # How long a sign-in lasts, in seconds (an absolute limit, not an idle one): the sign-in token's
    # expiry; an open chat whose sign-in has expired answers nothing more until the person signs in again.
    session_timeout: int = Field(86400, ge=5, validation_alias=_env("SESSION_TIMEOUT", "session_timeout"))
    document_max_size_mb: float = Field(
        10, validation_alias=_env("DOCUMENT_MAX_SIZE_MB", "document_max_size_mb")
    )
    document_max_pages: int = Field(
        200, validation_alias=_env("DOCUMENT_MAX_PAGES", "document_max_pages")
    )
    document_max_decompressed_mb: float = Field(
        100, validation_alias=_env("DOCUMENT_MAX_DECOMPRESSED_MB", "document_max_decompressed_mb")
    )
    agent_max_steps: int = Field(8, validation_alias=_env("AGENT_MAX_STEPS", "agent_max_steps"))
    # How many of a conversation's latest turns (a message and everything answering it) the model is
    # given, and the chat keeps in memory; older ones stay in the saved history, shown but not re-sent.
    conversation_turns: int = Field(20, ge=1, validation_alias=_env("CONVERSATION_TURNS", "conversation_turns"))
    chroma_url: str | None = Field(None, validation_alias=_env("CHROMA_URL", "chroma_url"))
    review_below: float = Field(0.35, ge=0, le=1, validation_alias=_env("REVIEW_CONFIDENCE_BELOW", "review_below"))
    # Who reads a bill's fields: "auto" and "model" use the conversation's model provider when it is not
    # the offline one (its values checked against the text, its cost through the budget), "offline"
    # always the rules. See assistant/documents/model_extract.py.
    extractor: Literal["auto", "model", "offline"] = Field("auto", validation_alias=_env("EXTRACTOR", "extractor"))
    # Every this many seconds the server gives the memory it has freed back to the operating system
    # (glibc's malloc keeps it otherwise): assistant/web/heap.py. 0: never.
    heap_trim_interval: float = Field(10, ge=0, validation_alias=_env("HEAP_TRIM_INTERVAL", "heap_trim_interval"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL", "log_level"))
    default_currency: str = Field(
        "USD", validation_alias=_env("ASSISTANT_DEFAULT_CURRENCY", "default_currency")
    )

    # --- model providers (see README, "Model providers") ---
    providers: str = Field(
        "openai,anthropic,gemini,openai-compatible,offline",
        validation_alias=_env("ASSISTANT_PROVIDERS", "providers"),
    )
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "openai_api_key"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL", "openai_base_url"))
    openai_model: str = Field("gpt-4.1-mini", validation_alias=_env("OPENAI_MODEL", "openai_model"))
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY", "anthropic_api_key"))
    anthropic_base_url: str | None = Field(
        None, validation_alias=_env("ANTHROPIC_BASE_URL", "anthropic_base_url"))
    anthropic_model: str = Field("claude-haiku-4-5", validation_alias=_env("ANTHROPIC_MODEL", "anthropic_model"))
    google_api_key: SecretStr | None = Field(
        None, validation_alias=_env("GOOGLE_API_KEY", "GEMINI_API_KEY", "google_api_key"))
    gemini_base_url: str | None = Field(None, validation_alias=_env("GEMINI_BASE_URL", "gemini_base_url"))
    gemini_model: str = Field("gemini-2.5-flash", validation_alias=_env("GEMINI_MODEL", "gemini_model"))
    openai_compatible_base_url: str | None = Field(
        None, validation_alias=_env("OPENAI_COMPATIBLE_BASE_URL", "openai_compatible_base_url"))
    openai_compatible_api_key: SecretStr | None = Field(
        None, validation_alias=_env("OPENAI_COMPATIBLE_API_KEY", "openai_compatible_api_key"))
    openai_compatible_model: str = Field(
        "llama3.1", validation_alias=_env("OPENAI_COMPATIBLE_MODEL", "openai_compatible_model"))
    provider_timeout_s: float = Field(
        60, validation_alias=_env("PROVIDER_TIMEOUT_SECONDS", "provider_timeout_s"))
    provider_max_retries: int = Field(
        2, ge=0, le=10, validation_alias=_env("PROVIDER_MAX_RETRIES", "provider_max_retries"))
    provider_backoff_s: float = Field(
        0.5, ge=0, validation_alias=_env("PROVIDER_BACKOFF_SECONDS", "provider_backoff_s"))
    provider_streaming: bool = Field(
        True, validation_alias=_env("PROVIDER_STREAMING", "provider_streaming"))
    max_output_tokens: int = Field(
        1024, ge=16, validation_alias=_env("MAX_OUTPUT_TOKENS", "max_output_tokens"))
    temperature: float = Field(0.2, ge=0, le=2, validation_alias=_env("MODEL_TEMPERATURE", "temperature"))

    # --- cost limits, in US dollars (see README, "Cost limits") ---
    cost_limit_per_request: Decimal = Field(
        Decimal("1.00"), ge=0, validation_alias=_env("COST_LIMIT_PER_REQUEST", "cost_limit_per_request"))
    cost_limit_per_hour: Decimal = Field(
        Decimal("10.00"), ge=0, validation_alias=_env("COST_LIMIT_PER_HOUR", "cost_limit_per_hour"))
    cost_limit_per_day: Decimal = Field(
        Decimal("50.00"), ge=0, validation_alias=_env("COST_LIMIT_PER_DAY", "cost_limit_per_day"))
    user_cost_limit_per_request: Decimal | None = Field(
        None, ge=0, validation_alias=_env("USER_COST_LIMIT_PER_REQUEST", "user_cost_limit_per_request"))
    user_cost_limit_per_hour: Decimal | None = Field(
        None, ge=0, validation_alias=_env("USER_COST_LIMIT_PER_HOUR", "user_cost_limit_per_hour"))
    user_cost_limit_per_day: Decimal | None = Field(
        None, ge=0, validation_alias=_env("USER_COST_LIMIT_PER_DAY", "user_cost_limit_per_day"))
    budget_reservation_ttl_s: int = Field(
        900, ge=60, validation_alias=_env("BUDGET_RESERVATION_TTL_SECONDS", "budget_reservation_ttl_s"))
    budget_pool_size: int = Field(4, ge=1, validation_alias=_env("BUDGET_POOL_SIZE", "budget_pool_size"))
    budget_min_output_tokens: int = Field(
        256, ge=1, validation_alias=_env("BUDGET_MIN_OUTPUT_TOKENS", "budget_min_output_tokens"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=config_dir() / "settings.yaml")
        return (init_settings, env_settings, yaml_source)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'assistant.db'}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def document_max_bytes(self) -> int:
        return int(self.document_max_size_mb * 1024 * 1024)

    @property
    def document_max_decompressed_bytes(self) -> int:
        return int(self.document_max_decompressed_mb * 1024 * 1024)

    @property
    def documents_dir(self) -> Path:
        return self.data_dir.resolve() / "documents"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir.resolve() / "attachments"

    @property
    def backup_dir(self) -> Path:
        return (self.backup_dir_override or self.data_dir / "backups").resolve()

    def provider_order(self) -> list[str]:
        return [p.strip() for p in self.providers.split(",") if p.strip()]

    def user_entries(self) -> list[tuple[str, str]]:
        """`(name, password or bcrypt hash)` pairs from `users`."""
        if self.environment == "production" and self.users.strip() == "demo:demo":
            return []  # the shipped try-out account never exists on a production install
        entries = []
        for item in self.users.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, password = item.partition(":")
            if not sep or not name.strip() or not password:
                raise ValueError("ASSISTANT_USERS entries look like name:password")
            entries.append((name.strip(), password))
        return entries

    def ensure_auth_secret(self) -> str:
        """The secret that signs sessions: CHAINLIT_AUTH_SECRET, else one kept in the data dir."""
        if self.auth_secret is not None:
            return self.auth_secret.get_secret_value()
        path = self.data_dir.resolve() / ".auth_secret"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def config_dir() -> Path:
    return PROJECT_ROOT / "config"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
