"""Settings, read once from the environment (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'data' / 'duban.db'}",
        description="sqlite+aiosqlite:///path (embedded default) or postgresql+asyncpg://…",
    )
    duban_admin_token: str | None = Field(
        default=None, description="accepted as the supervising office's bearer token"
    )
    timezone: str = "Asia/Shanghai"
    seed_dir: Path = ROOT / "seed"
    import_seed: bool = True
    max_json_bytes: int = 1_000_000
    max_document_bytes: int = 20_000_000
    page_limit_max: int = 500
    report_due_day: int = Field(default=25, ge=1, le=28)
    # The monthly dispatch (app/dispatch): what counts as due soon, when the light turns
    # yellow, and how far reported progress may trail 序时进度 (points) before it lags.
    dispatch_due_soon_days: int = Field(default=30, ge=0, le=366)
    dispatch_yellow_days: int = Field(default=14, ge=0, le=366)
    dispatch_lag_margin: int = Field(default=20, ge=0, le=100)
    db_pool_size: int = Field(default=20, ge=1, le=200, description="connections for transactions, "
                              "and as many again for single statements (app/readpool.py)")
    telemetry: bool = Field(default=False, description="FastAPI's OpenTelemetry spans, metrics and "
                            "logs, for a deployment that configures a provider; off, a request "
                            "does not look for one")
    duban_host: str = Field(default="127.0.0.1", description="address `python -m app.serve` binds")
    duban_port: int = Field(default=8000, ge=1, le=65535)
    # Webhook delivery (app/events/worker.py). Retry n waits base * 2**(n-1), capped, minus
    # up to `jitter` of itself so that many failed deliveries do not retry in step.
    run_worker: bool = Field(default=True, description="deliver webhooks and scan for overdue "
                                                       "obligations in this process")
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_batch_size: int = Field(default=20, ge=1, le=500)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_lease_seconds: float = Field(default=60.0, gt=0, description="a claimed delivery is "
                                         "retried by another worker after this long")
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    webhook_max_attempts: int = Field(default=12, ge=1)
    overdue_scan_seconds: float = Field(default=300.0, gt=0)
    overdue_scan_batch: int = Field(default=500, ge=1)

    @field_validator("duban_admin_token")
    @classmethod
    def _strong_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("DUBAN_ADMIN_TOKEN must be at least 16 characters")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
