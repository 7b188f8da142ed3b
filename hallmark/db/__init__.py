"""The database: every table, the engine, sessions and migrations.

One database holds everything (catalog, listings, crawls, cases, keys, work); the embedded default is
a SQLite file in the data directory, and ``HALLMARK_DATABASE_URL`` selects PostgreSQL.
"""

from hallmark.db.base import Base, utcnow
from hallmark.db.catalog import CatalogState, Product, ReferenceImage
from hallmark.db.crawls import CrawlRun, CrawlSchedule
from hallmark.db.engine import Database, open_database
from hallmark.db.listings import ImageMatch, Listing, ListingImage, Seller
from hallmark.db.work import WorkItem

__all__ = [
    "Base",
    "CatalogState",
    "CrawlRun",
    "CrawlSchedule",
    "Database",
    "ImageMatch",
    "Listing",
    "ListingImage",
    "Product",
    "ReferenceImage",
    "Seller",
    "WorkItem",
    "open_database",
    "utcnow",
]
