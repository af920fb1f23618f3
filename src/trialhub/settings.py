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
    secret_key: str | None = Field(
        default=None, description="Signs form CSRF tokens; random per start when unset"
    )
    public_url: str | None = Field(
        default=None, description="Base URL of links in emails (default: the served address)"
    )
    log_level: str = "info"
    # email: SMTP when smtp_host is set, else the local mailbox (see /mailbox, `trialhub mail`)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "trialhub <no-reply@trialhub.example>"
    purchase_url: str = Field(
        default="https://admin.webex.com/subscription?orgId={org_id}",
        description="The purchase link of expiry notices (rule T4); {org_id} is replaced",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Let webhooks reach this machine (127.0.0.1, ::1, localhost): development only",
    )
    worker_interval: float = Field(default=1.0, description="Seconds between worker passes")
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: where failed sign-in attempts are counted (rule X1); "
        "default: the database",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="Proxies whose X-Forwarded-For names the client (comma-separated addresses "
        "or networks, * for any); default: none, the socket peer is the client",
    )
