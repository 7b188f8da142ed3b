"""Migrations build the tables on both databases, and come back down cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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


def test_migration_0003_adds_the_blurred_descriptor_and_comes_back_down(database: Database) -> None:
    config = alembic_config(database.url)

    def columns() -> set[str]:
        return {column["name"] for column in inspect(database.engine).get_columns("reference_images")}

    assert "blurred_descriptor" in columns()
    command.downgrade(config, "0002")
    assert "blurred_descriptor" not in columns()
    command.upgrade(config, "head")
    assert "blurred_descriptor" in columns()
