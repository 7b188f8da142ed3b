"""A small real world for case-queue tests: a catalog of demo photos, listings, and a real worker.

Plain helpers (no pytest), shared by tests/hallmark, tests/api and tests/cli. Everything goes through
the real components: the catalog embeds real photos, listings are stored as the API stores them, and
the worker's matching handler runs the real model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from hallmark.cases import FlaggedMatch, OpenedCases, open_cases_for_match
from hallmark.db import Case, Database, ImageMatch, ListingImage, ReferenceImage, open_database, utcnow
from hallmark.listings import ListingReport, StoredPhoto, report_listing
from hallmark.settings import Settings
from hallmark.work_queue import HandlerRegistry, run_worker
from index.catalog import Catalog
from index.service import open_catalog
from vision.decode import decode_image

REPO = Path(__file__).resolve().parents[1]
DEMO_IMAGES = REPO / "demo" / "catalog" / "images"
DEMO_LISTINGS = REPO / "demo" / "listings"
#: Catalog products: SKU -> the demo photo. Demo Apparel, 89.00 EUR, released 2024-04-01, 500 made.
PRODUCTS = ("DA-001", "DA-002", "DA-005", "DA-006")
#: Listing photos and what the real matcher makes of them against PRODUCTS.
CROPPED_DA_001 = DEMO_LISTINGS / "reused-photo-cropped.jpg"
MIRRORED_DA_002 = DEMO_LISTINGS / "reused-photo-mirrored.jpg"
UNRELATED = DEMO_LISTINGS / "unrelated-clothes.jpg"


@dataclass(frozen=True)
class World:
    """A data directory and database with the demo catalog in it."""

    settings: Settings
    database: Database
    catalog: Catalog


def build_catalog(settings: Settings, folder: Path) -> Catalog:
    """Imports the four Demo Apparel products into the settings' database and data directory."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["sku,name,brand,image,msrp,currency,release_date,batch_size"]
    for sku in PRODUCTS:
        shutil.copy(DEMO_IMAGES / f"{sku}.jpg", folder / f"{sku}.jpg")
        rows.append(f"{sku},Demo jacket {sku},Demo Apparel,{sku}.jpg,89.00,EUR,2024-04-01,500")
    (folder / "catalog.csv").write_text("\n".join(rows) + "\n")
    catalog = open_catalog(settings)
    report = catalog.import_csv(folder / "catalog.csv")
    assert report.errors == [], report.errors
    return catalog


def add_listing(
    settings: Settings,
    photo: Path,
    *,
    url: str,
    title: str = "Jacket",
    price: str | None = "85.00",
    currency: str | None = "EUR",
    seller: str | None = "shop-one",
    quantity: int | None = 1,
    listed_at: datetime | None = None,
    marketplace: str = "demo",
) -> int:
    """Stores a listing with one photo as the API does (queued for matching); returns the photo's id."""
    data = photo.read_bytes()
    decoded = decode_image(data)
    report = ListingReport(
        url=url,
        marketplace=marketplace,
        title=title,
        price=Decimal(price) if price is not None else None,
        currency=currency,
        quantity=quantity,
        seller=seller,
        listed_at=listed_at or utcnow(),
    )
    stored = StoredPhoto(
        f"{url}/photo.jpg", data, decoded.sha256, decoded.format, decoded.width, decoded.height
    )
    with open_database(settings).session() as session:
        _, image = report_listing(session, settings.resolved_home, report, stored)
        return image.id


def run_matching(settings: Settings) -> int:
    """Runs a real worker (matching and default re-check handlers) until the queue is empty."""
    from cli.worker_commands import build_registry

    database = open_database(settings)
    handlers = build_registry(settings, [], HandlerRegistry())
    return run_worker(database, settings, handlers, worker_id="test-worker", until_idle=True)


def flag(
    database: Database,
    settings: Settings,
    listing_image_id: int,
    sku: str,
    score: float = 0.9,
    kind: str = "copy",
) -> OpenedCases:
    """Stores a match of a listing photo to a product's reference, as the matcher would, and opens cases.

    For tests of the queue's rules where the score itself is the input (risk, suppression...).
    """
    with database.session() as session:
        reference = session.scalar(
            select(ReferenceImage).join(ReferenceImage.product).where(ReferenceImage.product.has(sku=sku))
        )
        assert reference is not None
        match = ImageMatch(
            listing_image_id=listing_image_id,
            verdict=kind,
            score=score,
            result={"image": "test", "verdict": kind, "score": score, "matches": []},
            catalog_version=0,
            model_fingerprint="test",
            created_at=utcnow(),
        )
        session.add(match)
        session.flush()
        return open_cases_for_match(session, match, [FlaggedMatch(reference.id, sku, score, kind)], settings)


def case_of(database: Database, listing_image_id: int) -> Case:
    """The newest case opened from a listing photo."""
    with database.session() as session:
        image = session.get(ListingImage, listing_image_id)
        assert image is not None
        case = session.scalar(
            select(Case).where(Case.listing_id == image.listing_id).order_by(Case.id.desc()).limit(1)
        )
        assert case is not None, "no case was opened"
        return case
