"""All of Hallmark's settings, in one pydantic-settings class read from ``HALLMARK_*`` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration.

    Every field can be set from the environment with the ``HALLMARK_`` prefix, for example
    ``HALLMARK_HOME=/srv/hallmark`` or ``HALLMARK_DATABASE_URL=postgresql+psycopg://...``.
    """

    model_config = SettingsConfigDict(env_prefix="HALLMARK_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default=Path(".hallmark"), description="Data directory: database, index, images.")
    model_cache: Path = Field(
        default=Path("~/.cache/hallmark"),
        description="Exported ONNX models, shared by every data directory.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; the default is a SQLite file in the data directory."
    )

    # Safe decoding: every image, uploaded, crawled or imported, passes these caps.
    max_image_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0, description="Width x height, read from the header.")
    max_image_side: int = Field(default=20_000, gt=0)

    # Matching.
    check_batch_size: int = Field(default=32, gt=0)
    top_k: int = Field(default=5, gt=0, le=100)
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Operating threshold on the calibrated score; the model card's value when unset.",
    )
    inference_threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads; 0 = all cores.")

    # Network.
    allow_private_networks: bool = Field(
        default=False,
        description="Let URL fetches reach loopback and private addresses (tests and the demo only).",
    )

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_model_cache(self) -> Path:
        return self.model_cache.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'hallmark.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
