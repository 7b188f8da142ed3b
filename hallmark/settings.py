"""All of Hallmark's settings, in one pydantic-settings class read from ``HALLMARK_*`` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
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
    max_image_pixels: int = Field(
        default=40_000_000, gt=0, description="Width x height, read from the header."
    )
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
    inference_threads: int = Field(
        default=0,
        ge=0,
        description="onnxruntime intra-op threads; 0 = all cores. Checking many files runs this many "
        "one-core passes at once instead.",
    )
    verify_threads: int = Field(
        default=0,
        ge=0,
        description="Threads verifying a batch's photos with local features, one photo each; 0 = all cores.",
    )

    # Network.
    allow_private_networks: bool = Field(
        default=False,
        description="Let URL fetches reach loopback and private addresses (tests and the demo only).",
    )

    # API, rate limits and URL fetches (see docs/README-api.md).
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// for one process, redis://HOST:PORT/N "
        "when several API processes serve together (any storage URI the limits library accepts).",
    )
    rate_limit_per_key: str = Field(
        default="120/minute", description="Requests per API key, in the limits library's notation."
    )
    rate_limit_public: str = Field(
        default="20/minute", description="Requests per client address on the public buyer routes."
    )
    max_request_bytes: int = Field(
        default=26 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted; bigger bodies get 413 before they are read.",
    )
    fetch_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a URL fetch may take in all, redirects included."
    )
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    public_base_url: str | None = Field(
        default=None,
        description="The API's public address, used in takedown notices for evidence links.",
    )

    # Cases, serials and takedowns.
    risk_price_ratio: float = Field(
        default=0.5, gt=0, le=1, description="A price below this share of the catalog price is a risk."
    )
    serial_max_lookups: int = Field(
        default=20, gt=0, description="Look-ups of one serial after which it is suspicious."
    )
    serial_max_places: int = Field(
        default=3,
        gt=0,
        description="Distinct places one serial may be looked up from before it is suspicious.",
    )
    takedown_rights_holder: str | None = Field(
        default=None, description="Rights holder named in takedown notices; the product's brand when unset."
    )
    takedown_contact: str | None = Field(default=None, description="Contact line in takedown notices.")
    takedown_template_dir: Path | None = Field(
        default=None,
        description="Folder of per-marketplace notice templates (MARKETPLACE.txt.j2) overriding the default.",
    )

    # Background work.
    worker_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a claimed work item is a worker's before others retry it."
    )
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_max_attempts: int = Field(default=5, gt=0)
    worker_plugins: list[str] = Field(
        default_factory=list,
        description="Modules whose register_handlers(registry) adds work kinds (e.g. takedown re-checks).",
    )

    # Crawlers (see docs/README-crawlers.md). Politeness first: one request at a time per site.
    crawl_contact_url: str = Field(
        default="https://github.com/hallmark-project/hallmark",
        description="Where a marketplace's operators can reach whoever runs this crawler; sent in the "
        "User-Agent. Point it at a page about your deployment.",
    )
    crawl_download_delay: float = Field(
        default=2.0, ge=0, description="Seconds between two requests to one site (AutoThrottle's floor)."
    )
    crawl_autothrottle_max_delay: float = Field(
        default=30.0, ge=0, description="Longest delay AutoThrottle may back off to on a slow site."
    )
    crawl_download_timeout: float = Field(default=20.0, gt=0, description="Seconds one page may take.")
    crawl_max_page_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest page body; images use max_image_bytes."
    )
    crawl_retry_times: int = Field(default=3, ge=0, le=10, description="Retries of a 5xx, 429 or timeout.")
    crawl_retry_base_delay: float = Field(
        default=2.0, ge=0, description="First retry back-off in seconds; doubles with each retry."
    )
    crawl_retry_max_delay: float = Field(
        default=120.0, ge=0, description="Longest back-off, also the cap on a 429's Retry-After."
    )
    crawl_max_seconds: float = Field(
        default=3600.0, gt=0, description="A crawl running longer is closed (and counts as partial)."
    )
    crawl_chromium_path: Path | None = Field(
        default=Path("/usr/bin/chromium"),
        description="Chromium for adapters that need a browser; Playwright's own browser when missing.",
    )
    crawl_scheduler_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often `hallmark scheduler` looks for due crawl jobs."
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


def settings_problem(error: ValidationError) -> str | None:
    """One line naming the ``HALLMARK_*`` variables that :class:`Settings` refused, and why.

    Returns None when ``error`` is not about the settings (another model's validation).
    """
    if error.title != Settings.__name__:
        return None
    problems = []
    for item in error.errors():
        name = "HALLMARK_" + "__".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{name}={item.get('input')!s}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)
