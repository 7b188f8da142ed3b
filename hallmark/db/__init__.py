"""The database: every table, the engine, sessions and migrations.

One database holds everything (catalog, listings, crawls, cases, keys, work); the embedded default is
a SQLite file in the data directory, and ``HALLMARK_DATABASE_URL`` selects PostgreSQL.
"""

from hallmark.db.base import Base, utcnow
from hallmark.db.cases import Case, CaseEvent, ReviewerLabel, SuppressedMatch
from hallmark.db.catalog import CatalogState, Product, ReferenceImage
from hallmark.db.checks import CheckRecord
from hallmark.db.crawls import CrawlRun, CrawlSchedule
from hallmark.db.engine import Database, open_database
from hallmark.db.keys import ApiKey
from hallmark.db.listings import ImageMatch, Listing, ListingImage, Seller
from hallmark.db.sellers import AuthorisedSeller
from hallmark.db.serials import Serial, SerialLookup
from hallmark.db.takedowns import TakedownNotice
from hallmark.db.work import WorkItem

__all__ = [
    "ApiKey",
    "AuthorisedSeller",
    "Base",
    "Case",
    "CaseEvent",
    "CatalogState",
    "CheckRecord",
    "CrawlRun",
    "CrawlSchedule",
    "Database",
    "ImageMatch",
    "Listing",
    "ListingImage",
    "Product",
    "ReferenceImage",
    "ReviewerLabel",
    "Seller",
    "Serial",
    "SerialLookup",
    "SuppressedMatch",
    "TakedownNotice",
    "WorkItem",
    "open_database",
    "utcnow",
]
