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
    db_pool_size: int = 10
    duban_host: str = Field(default="127.0.0.1", description="address `python -m app.serve` binds")
    duban_port: int = Field(default=8000, ge=1, le=65535)

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
