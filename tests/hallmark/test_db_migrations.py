"""Migrations build the tables on both databases, and come back down cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from hallmark.db import Base, Database
from hallmark.db.engine import alembic_config

CASE_QUEUE_TABLES = {
    "api_keys",
    "authorised_sellers",
    "case_events",
    "cases",
    "check_records",
    "reviewer_labels",
    "serial_lookups",
    "serials",
    "suppressed_matches",
    "takedown_notices",
}


def test_the_migrated_schema_matches_the_tables_exactly(database: Database) -> None:
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert set(inspect(database.engine).get_table_names()) >= CASE_QUEUE_TABLES


def test_migration_0002_downgrades_and_upgrades_again(database: Database) -> None:
    config = alembic_config(database.url)
    command.downgrade(config, "0001")
    assert not CASE_QUEUE_TABLES & set(inspect(database.engine).get_table_names())
    command.upgrade(config, "head")
    assert set(inspect(database.engine).get_table_names()) >= CASE_QUEUE_TABLES


def _reference_columns(database: Database) -> set[str]:
    return {column["name"] for column in inspect(database.engine).get_columns("reference_images")}


def test_migration_0003_adds_the_blurred_descriptor_and_comes_back_down(database: Database) -> None:
    config = alembic_config(database.url)

    assert "blurred_descriptor" in _reference_columns(database)
    command.downgrade(config, "0002")
    assert "blurred_descriptor" not in _reference_columns(database)
    command.upgrade(config, "head")
    assert "blurred_descriptor" in _reference_columns(database)


def test_migration_0004_marks_every_earlier_photo_as_the_catalogs_and_comes_back_down(
    database: Database,
) -> None:
    config = alembic_config(database.url)
    command.downgrade(config, "0003")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO products (sku, name, brand, created_at, updated_at)"
                " VALUES ('A-1', 'Shoe', 'Acme', :now, :now)"
            ),
            {"now": datetime(2026, 11, 29, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO reference_images (product_id, sha256, source_path, stored_path, width, height,"
                " phash, descriptor, model_fingerprint, created_at)"
                " SELECT id, 'ab', 'a.jpg', 'references/ab.jpg', 1, 1, 0, :vector, 'm', :now FROM products"
            ),
            {"vector": b"\0" * 4, "now": datetime(2026, 11, 29, tzinfo=UTC)},
        )
    command.upgrade(config, "head")
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT origin FROM reference_images")).scalars().all() == ["catalog"]
    command.downgrade(config, "0003")
    assert "origin" not in _reference_columns(database)
    command.upgrade(config, "head")


def test_migration_0005_adds_the_tilted_descriptors_and_comes_back_down(database: Database) -> None:
    config = alembic_config(database.url)

    assert "tilted_descriptors" in _reference_columns(database)
    command.downgrade(config, "0004")
    assert "tilted_descriptors" not in _reference_columns(database)
    assert "origin" in _reference_columns(database)
    command.upgrade(config, "head")
    assert "tilted_descriptors" in _reference_columns(database)
