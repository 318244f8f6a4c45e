"""Typed settings from the environment (prefix ``STOCKSYNC_``) for the CLI and services."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Where the ledger lives and how the local tools behave."""

    model_config = SettingsConfigDict(
        env_prefix="STOCKSYNC_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    database_url: str = Field(
        default="sqlite:///stocksync.db",
        description="SQLAlchemy URL of the ledger: a SQLite file (the embedded default) or "
        "postgresql+psycopg://user@host/db.",
    )
    db_pool_size: int = Field(default=10, description="Connections kept per process (PostgreSQL).")
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, description="How long a SQLite writer waits for the write lock."
    )

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, url: str) -> str:
        # Plain postgres:// and postgresql:// URLs would pick psycopg2, which we do not ship.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
