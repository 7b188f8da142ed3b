"""Reviewer labels, exported for calibrating the matcher's threshold on the brand's own decisions."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.db import ReviewerLabel

#: Columns of the export, in order; the JSON export has the same keys.
LABEL_FIELDS = (
    "id",
    "case_id",
    "sku",
    "reference_id",
    "image_sha256",
    "verdict",
    "match_score",
    "decision",
    "is_match",
    "reviewer",
    "created_at",
)


def labels(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every reviewer decision, oldest first; ``is_match`` is false only for ``not_a_match``."""
    query = select(ReviewerLabel).order_by(ReviewerLabel.id)
    if since is not None:
        query = query.where(ReviewerLabel.created_at >= since)
    return [
        {
            "id": row.id,
            "case_id": row.case_id,
            "sku": row.sku,
            "reference_id": row.reference_id,
            "image_sha256": row.image_sha256,
            "verdict": row.verdict,
            "match_score": row.match_score,
            "decision": row.decision,
            # A dismissed case was a right match that needed no action: it counts as a match.
            "is_match": row.decision != "not_a_match",
            "reviewer": row.reviewer,
            "created_at": row.created_at.isoformat(),
        }
        for row in session.scalars(query)
    ]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    # Spreadsheets run cells that start like a formula; names and SKUs are typed by people.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def labels_csv(rows: list[dict[str, Any]]) -> str:
    """The labels as CSV with a header row, safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LABEL_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(row[name]) for name in LABEL_FIELDS})
    return buffer.getvalue()
