"""Settings from the environment (`TRIALHUB_*`), with defaults that run on a laptop."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIALHUB_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/trialhub.db",
        description="SQLAlchemy URL; postgresql://user@host/db switches to PostgreSQL",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    sandbox: bool = False
    public_url: str | None = Field(
        default=None, description="Base URL of links in emails (default: the served address)"
    )
    log_level: str = "info"
    worker_interval: float = Field(default=1.0, description="Seconds between worker passes")
