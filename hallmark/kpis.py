"""Key figures of the brand-protection programme, for ``GET /v1/kpis``."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hallmark.cases import CaseStatus
from hallmark.db import Case, Listing, SerialLookup, utcnow


@dataclass(frozen=True)
class DailyCount:
    day: date
    count: int


@dataclass(frozen=True)
class Kpis:
    """The figures over a window of days ending now.

    Attributes:
        flags_per_day: Cases opened per day, every day of the window (zeros included), oldest first.
        precision: Of the cases reviewers decided in the window, the share not ``not_a_match``;
            None when none was decided.
        reviewed: How many cases were decided.
        takedowns_sent: Takedowns sent in the window.
        removed: Listings removed after a takedown in the window.
        median_hours_to_removal: Median time from sending to removal, over removals in the window.
        serial_lookups: Serial look-ups in the window, and how many answered ``suspicious``.
        listings_scanned: Listings seen by crawls in the window.
    """

    since: datetime
    days: int
    flags_per_day: list[DailyCount]
    flags: int
    reviewed: int
    precision: float | None
    takedowns_sent: int
    removed: int
    median_hours_to_removal: float | None
    serial_lookups: int
    suspicious_serial_lookups: int
    listings_scanned: int
    open_cases: int


def compute_kpis(session: Session, days: int = 30, now: datetime | None = None) -> Kpis:
    """Computes the figures for the last ``days`` days (today included)."""
    now = now or utcnow()
    first_day = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    per_day = {first_day + timedelta(days=offset): 0 for offset in range(days)}
    for opened_at in session.scalars(select(Case.opened_at).where(Case.opened_at >= since)):
        day = opened_at.date()
        if day in per_day:
            per_day[day] += 1
    decided = session.execute(select(Case.status).where(Case.reviewed_at >= since)).scalars().all()
    reviewed = len(decided)
    false_flags = sum(1 for status in decided if status == CaseStatus.NOT_A_MATCH)
    sent = session.scalar(select(func.count()).select_from(Case).where(Case.takedown_sent_at >= since)) or 0
    removals = session.execute(
        select(Case.takedown_sent_at, Case.removed_at).where(
            Case.removed_at >= since, Case.takedown_sent_at.is_not(None)
        )
    ).all()
    hours = [
        (removed - sent_at).total_seconds() / 3600
        for sent_at, removed in removals
        if sent_at is not None and removed is not None
    ]
    lookups = (
        session.scalar(select(func.count()).select_from(SerialLookup).where(SerialLookup.created_at >= since))
        or 0
    )
    suspicious = (
        session.scalar(
            select(func.count())
            .select_from(SerialLookup)
            .where(SerialLookup.created_at >= since, SerialLookup.result == "suspicious")
        )
        or 0
    )
    scanned = (
        session.scalar(select(func.count()).select_from(Listing).where(Listing.last_seen_at >= since)) or 0
    )
    open_cases = session.scalar(select(func.count()).select_from(Case).where(Case.closed_at.is_(None))) or 0
    return Kpis(
        since=since,
        days=days,
        flags_per_day=[DailyCount(day, count) for day, count in per_day.items()],
        flags=sum(per_day.values()),
        reviewed=reviewed,
        precision=round((reviewed - false_flags) / reviewed, 4) if reviewed else None,
        takedowns_sent=sent,
        removed=len(removals),
        median_hours_to_removal=round(statistics.median(hours), 3) if hours else None,
        serial_lookups=lookups,
        suspicious_serial_lookups=suspicious,
        listings_scanned=scanned,
        open_cases=open_cases,
    )
