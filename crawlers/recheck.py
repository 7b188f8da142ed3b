"""Following up sent takedowns: is the listing gone yet?

Two ways lead a case to ``removed`` (always through :func:`hallmark.takedowns.record_recheck`, which
records the check on the notice and the time to removal):

- a crawl finds a listing gone (its item page answers 404 or 410, or a complete crawl of the search no
  longer shows it): :func:`close_removed_cases`;
- the ``recheck_takedown`` work item fetches the listing page through the SSRF guard and reads it
  with the marketplace's adapter: :func:`recheck_listing_page`. Marketplaces often keep an ended
  listing's page up at 200 ("this listing has ended"), so on a marketplace we have an adapter for, a
  page from which no listing can be read any more counts as gone too, not only 404 and 410. Without
  an adapter a 200 counts as still up: generic extraction missing a listing is no proof it ended,
  and a case wrongly marked removed would stop the brand's enforcement.

Every ``hallmark worker`` and ``hallmark crawl run`` loads this module as a plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.adapter import match_adapter
from crawlers.extract import PageError, extract_listings
from hallmark.cases import CaseStatus, get_case
from hallmark.db import Case
from hallmark.errors import FetchError
from hallmark.safe_fetch import fetch_url
from hallmark.takedowns import GONE_STATUSES, RECHECK_DELAY_SECONDS, record_recheck
from hallmark.work_queue import KIND_RECHECK_TAKEDOWN, HandlerRegistry, WorkContext, enqueue

log = logging.getLogger(__name__)

#: Listing pages bigger than this are not listing pages.
MAX_PAGE_BYTES = 4 * 1024 * 1024


def close_removed_cases(
    session: Session, gone_listing_ids: Collection[int], actor: str = "crawler"
) -> list[int]:
    """Marks ``removed`` every sent takedown whose listing a crawl found gone; returns the case ids."""
    if not gone_listing_ids:
        return []
    cases = session.scalars(
        select(Case).where(
            Case.listing_id.in_(list(gone_listing_ids)), Case.status == CaseStatus.TAKEDOWN_SENT.value
        )
    ).all()
    for case in cases:
        record_recheck(session, case.id, listing_gone=True, actor=actor)
    return [case.id for case in cases]


def listing_still_shown(html: bytes, page_url: str, listing_url: str) -> bool:
    """Whether the page at ``page_url`` still shows the listing ``listing_url``.

    The page is read with the marketplace's adapter; the listing is still shown when the page yields a
    listing with that URL, or exactly one listing (an item page whose canonical link moved). A page
    no adapter applies to is taken as still showing it (see the module's docstring).
    """
    adapter = match_adapter(page_url)
    if adapter is None:
        return True
    try:
        found = extract_listings(html, page_url, adapter=adapter)
    except PageError:
        return False
    return any(listing.url == listing_url for listing in found) or len(found) == 1


def recheck_listing_page(context: WorkContext) -> None:
    """The ``recheck_takedown`` handler: fetch the listing through the guard, decide whether it is gone.

    Gone (404, 410, or no listing readable from the page of a marketplace we have an adapter for)
    marks the case removed; still there records
    the check and looks again after :data:`hallmark.takedowns.RECHECK_DELAY_SECONDS`.

    Raises:
        FetchError: the page could not be fetched, or answered another error (retried with back-off).
    """
    session = context.session
    case = get_case(session, int(context.item.payload["case_id"]))
    if case.status != CaseStatus.TAKEDOWN_SENT:
        return  # decided meanwhile, by hand or by a crawl
    url = case.listing.url
    resource = fetch_url(url, max_bytes=MAX_PAGE_BYTES, settings=context.settings, accept="text/html")
    if resource.status in GONE_STATUSES:
        gone = True
    elif resource.status >= 400:
        raise FetchError(f"{url} answered {resource.status}; will look again")
    else:
        gone = not listing_still_shown(resource.body, resource.final_url, url)
    log.info("takedown re-check of case %s: %s is %s", case.id, url, "gone" if gone else "still up")
    record_recheck(session, case.id, listing_gone=gone, actor="worker")
    if not gone:
        enqueue(session, KIND_RECHECK_TAKEDOWN, {"case_id": case.id}, delay_seconds=RECHECK_DELAY_SECONDS)


def register_handlers(registry: HandlerRegistry) -> None:
    """Worker plugin hook: the page-aware re-check replaces the status-only default."""
    registry.register(KIND_RECHECK_TAKEDOWN, recheck_listing_page, replace=True)
