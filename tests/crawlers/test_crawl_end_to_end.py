"""The server-rendered demo storefront crawled end to end on loopback with ``hallmark crawl run``.

One data directory for the module, with the demo catalog imported, crawled three times: first
everything is new; then nothing changed; then one listing was edited and one (with a sent takedown)
removed through the market's admin endpoints.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from demo_market_server import DemoMarket
from hallmark_cli import REPO, HallmarkRunner
from sqlalchemy import func, select

from crawlers.recheck import recheck_listing_page
from hallmark.cases import CaseStatus, transition
from hallmark.db import (
    Case,
    CrawlRun,
    ImageMatch,
    Listing,
    ListingImage,
    Seller,
    TakedownNotice,
    WorkItem,
    open_database,
)
from hallmark.settings import Settings
from hallmark.takedowns import mark_sent, prepare_notice
from hallmark.work_queue import KIND_RECHECK_TAKEDOWN, ClaimedItem, WorkContext

pytestmark = pytest.mark.slow

ROBOTS, BROKEN, HUGE, SLOW, FLAKY, MISSING = "L001", "L003", "L004", "L005", "L009", "L010"


def listing_id_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def counts(settings: Settings) -> dict[str, int]:
    with open_database(settings).session() as session:
        return {
            table.__name__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Listing, ListingImage, ImageMatch, Seller, WorkItem, Case)
        }


def crawl(runner: HallmarkRunner, market: DemoMarket, *args: str) -> dict[str, Any]:
    done = runner("crawl", "run", "demo-ssr", "--base-url", market.base_url, "--json", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def send_takedown(settings: Settings, case_id: int) -> None:
    with open_database(settings).session() as session:
        transition(session, case_id, CaseStatus.IN_REVIEW, "test")
        transition(session, case_id, CaseStatus.CONFIRMED, "test")
        prepare_notice(session, case_id, "test", settings)
        mark_sent(session, case_id, "test")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, demo_market: DemoMarket, market_truth: dict
) -> dict[str, Any]:
    """Three crawls of the SSR storefront and what each left behind."""
    from conftest import FAST_CRAWL_ENV

    home = tmp_path_factory.mktemp("crawl-home")
    runner = HallmarkRunner(home, model_cache)
    runner.env.update(FAST_CRAWL_ENV)
    settings = Settings(home=home, model_cache=model_cache, allow_private_networks=True)
    imported = runner("catalog", "import", str(REPO / "demo" / "catalog" / "catalog.csv"))
    assert imported.returncode == 0, imported.stderr
    demo_market.reset()

    first = crawl(runner, demo_market)
    first_paths = demo_market.paths()
    after_first = counts(settings)

    demo_market.requests.clear()
    second = crawl(runner, demo_market)
    second_paths = demo_market.paths()
    after_second = counts(settings)

    # A copy with an open case gets a sent takedown, then the marketplace removes it; another
    # listing's price changes.
    with open_database(settings).session() as session:
        flagged = session.execute(
            select(Case.id, Listing.url).join(Listing, Case.listing_id == Listing.id).order_by(Case.id)
        ).all()
    case_id, removed_url = next(
        (case_id, url)
        for case_id, url in flagged
        if market_truth[listing_id_of(url)]["truth"]["kind"] == "copy"
    )
    removed = listing_id_of(removed_url)
    changed = next(
        key
        for key, entry in market_truth.items()
        if entry["fault"] is None and key != removed and key > "L020"
    )
    send_takedown(settings, case_id)
    demo_market.admin("POST", f"/admin/remove/{removed}")
    demo_market.admin("PATCH", f"/admin/listings/{changed}", json={"price": 1.5})
    third = crawl(runner, demo_market)
    history = runner("crawl", "history", "--json")
    assert history.returncode == 0, history.stderr
    return {
        "home": home,
        "runner": runner,
        "settings": settings,
        "runs": (first, second, third),
        "paths": (first_paths, second_paths),
        "counts": (after_first, after_second),
        "case_id": case_id,
        "removed": removed,
        "changed": changed,
        "history": [json.loads(line) for line in history.stdout.splitlines()],
    }


class TestFirstCrawl:
    def test_stores_every_listing_but_the_robots_disallowed_and_the_missing_one(
        self, world: dict, market_truth: dict
    ) -> None:
        with open_database(world["settings"]).session() as session:
            stored = {listing_id_of(url) for url in session.scalars(select(Listing.url))}
        assert stored == set(market_truth) - {ROBOTS, MISSING}
        assert world["runs"][0]["stats"]["listings_new"] == len(market_truth) - 2

    def test_stores_prices_quantities_dates_and_sellers_as_the_market_shows_them(
        self, world: dict, market_truth: dict
    ) -> None:
        with open_database(world["settings"]).session() as session:
            listings = session.scalars(select(Listing)).all()
            sellers = set(session.scalars(select(Seller.name)))
            for listing in listings:
                truth = market_truth[listing_id_of(listing.url)]
                if listing_id_of(listing.url) == world["changed"]:
                    continue
                assert listing.title == truth["title"]
                assert float(listing.price) == pytest.approx(truth["price"])
                assert (listing.currency, listing.quantity) == (truth["currency"], truth["quantity"])
                assert listing.listed_at is not None and listing.listed_at.isoformat() == truth["listed_at"]
                assert listing.seller is not None and listing.seller.name == truth["seller"]
                assert listing.content_hash and listing.first_seen_at <= listing.last_seen_at
        expected = {market_truth[key]["seller"] for key in market_truth if key not in (ROBOTS, MISSING)}
        assert sellers == expected

    def test_never_fetches_what_robots_txt_disallows(self, world: dict) -> None:
        first_paths, _ = world["paths"]
        assert "/robots.txt" in first_paths
        assert not any(path.startswith("/ssr/private/") for path in first_paths)
        assert world["runs"][0]["stats"]["robots_refused"] >= 1

    def test_retries_the_page_that_fails_first_and_then_succeeds(self, world: dict) -> None:
        first_paths, _ = world["paths"]
        assert first_paths.count(f"/ssr/item/{FLAKY}") == 3  # two 500s, then the page
        assert world["runs"][0]["stats"]["retries"] >= 2
        with open_database(world["settings"]).session() as session:
            assert session.scalar(select(Listing.id).where(Listing.url.endswith(f"/{FLAKY}"))) is not None

    def test_records_the_404_and_still_stores_the_slow_page(self, world: dict) -> None:
        stats = world["runs"][0]["stats"]
        assert stats["errors"]["http_404"] == 1
        with open_database(world["settings"]).session() as session:
            assert session.scalar(select(Listing.id).where(Listing.url.endswith(f"/{SLOW}"))) is not None

    def test_records_the_broken_and_the_huge_photo_as_errors_without_stopping(self, world: dict) -> None:
        with open_database(world["settings"]).session() as session:
            failed = {
                listing_id_of(image.listing.url): image.error
                for image in session.scalars(select(ListingImage).where(ListingImage.error.is_not(None)))
            }
        assert set(failed) == {BROKEN, HUGE}
        assert "corrupt" in failed[BROKEN] and "pixels" in failed[HUGE]
        stats = world["runs"][0]["stats"]
        assert (stats["images_new"], stats["images_failed"]) == (96, 2)
        assert stats["complete"] is True and world["runs"][0]["status"] == "finished"

    def test_keeps_each_good_photo_with_its_hash_and_size(self, world: dict) -> None:
        with open_database(world["settings"]).session() as session:
            good = session.scalars(select(ListingImage).where(ListingImage.error.is_(None))).all()
        assert len(good) == 96
        for image in good:
            assert image.sha256 and image.width and image.height and image.phash is not None
            assert (world["home"] / str(image.stored_path)).is_file()

    def test_matches_every_good_photo_and_flags_most_copies(self, world: dict, market_truth: dict) -> None:
        with open_database(world["settings"]).session() as session:
            matches = session.execute(
                select(Listing.url, ImageMatch)
                .join(ListingImage, ImageMatch.listing_image_id == ListingImage.id)
                .join(Listing, ListingImage.listing_id == Listing.id)
            ).all()
        assert len(matches) == 96 == world["runs"][0]["stats"]["matches"]
        verdicts = Counter(
            (market_truth[listing_id_of(url)]["truth"]["kind"], match.verdict != "none")
            for url, match in matches
        )
        copies = sum(1 for entry in market_truth.values() if entry["truth"]["kind"] == "copy")
        assert verdicts[("copy", True)] >= 0.8 * copies
        assert verdicts[("unrelated", True)] <= 2
        for _, match in matches:
            assert match.result["verdict"] == match.verdict and "matches" in match.result
            assert match.catalog_version >= 1 and match.model_fingerprint
        assert world["runs"][0]["stats"]["flagged"] == sum(
            count for (_, hit), count in verdicts.items() if hit
        )

    def test_opens_cases_for_flagged_listings(self, world: dict) -> None:
        assert world["runs"][0]["stats"]["cases_opened"] >= 1
        assert world["counts"][0]["Case"] == world["runs"][0]["stats"]["cases_opened"]

    def test_announces_itself_with_an_honest_user_agent(self, world: dict, demo_market: DemoMarket) -> None:
        # The recorder keeps agents of the latest crawl only after a clear; the first crawl's are gone,
        # so look at any request of the third crawl.
        agents = {agent for _, agent in demo_market.requests}
        assert agents and all(agent.startswith("Hallmark/") and "+http" in agent for agent in agents)


class TestSecondCrawlWithoutChanges:
    def test_adds_no_rows(self, world: dict) -> None:
        after_first, after_second = world["counts"]
        assert after_second == after_first

    def test_counts_everything_unchanged(self, world: dict) -> None:
        stats = world["runs"][1]["stats"]
        assert stats["listings_unchanged"] == world["runs"][0]["stats"]["listings_new"]
        assert (stats["listings_new"], stats["listings_changed"], stats["listings_gone"]) == (0, 0, 0)
        assert (stats["images_new"], stats["images_changed"], stats["matches"], stats["flagged"]) == (
            0,
            0,
            0,
            0,
        )

    def test_downloads_no_photo_again(self, world: dict) -> None:
        _, second_paths = world["paths"]
        assert not [path for path in second_paths if path.startswith("/images/")]


class TestThirdCrawlAfterChanges:
    def test_detects_the_edited_listing_as_changed(self, world: dict) -> None:
        stats = world["runs"][2]["stats"]
        assert stats["listings_changed"] == 1
        with open_database(world["settings"]).session() as session:
            listing = session.scalar(select(Listing).where(Listing.url.endswith(f"/{world['changed']}")))
            assert listing is not None and float(listing.price) == 1.5

    def test_marks_the_removed_listing_gone(self, world: dict) -> None:
        assert world["runs"][2]["stats"]["listings_gone"] == 1
        with open_database(world["settings"]).session() as session:
            gone = session.scalars(select(Listing.url).where(Listing.status == "gone")).all()
        assert [listing_id_of(url) for url in gone] == [world["removed"]]

    def test_closes_the_sent_takedown_of_the_removed_listing(self, world: dict) -> None:
        assert world["runs"][2]["stats"]["cases_removed"] == 1
        with open_database(world["settings"]).session() as session:
            case = session.get(Case, world["case_id"])
            assert case is not None and case.status == "removed" and case.removed_at is not None
            notice = session.scalar(select(TakedownNotice).where(TakedownNotice.case_id == case.id))
            assert notice is not None and notice.removed_at is not None and notice.checks >= 1

    def test_history_lists_the_three_runs_newest_first(self, world: dict) -> None:
        assert [run["status"] for run in world["history"]] == ["finished"] * 3
        assert [run["stats"]["listings_new"] for run in world["history"]] == [0, 0, 96 + 2]
        assert all("seen_listing_ids" not in run["stats"] for run in world["history"])
        with open_database(world["settings"]).session() as session:
            assert session.scalar(select(func.count()).select_from(CrawlRun)) == 3


class TestTakedownRecheck:
    def _recheck(self, settings: Settings, case_id: int) -> None:
        with open_database(settings).session() as session:
            item = ClaimedItem(id=0, kind=KIND_RECHECK_TAKEDOWN, payload={"case_id": case_id}, attempts=1)
            recheck_listing_page(WorkContext(session=session, settings=settings, item=item, worker_id="test"))

    def test_a_listing_still_up_stays_sent_and_is_looked_at_again_later(
        self, world: dict, demo_market: DemoMarket
    ) -> None:
        settings = world["settings"]
        with open_database(settings).session() as session:
            case_id = session.scalar(select(Case.id).where(Case.status == "open").order_by(Case.id))
        assert case_id is not None
        send_takedown(settings, case_id)
        self._recheck(settings, case_id)
        with open_database(settings).session() as session:
            case = session.get(Case, case_id)
            assert case is not None and case.status == "takedown_sent"
            later = session.scalars(select(WorkItem).where(WorkItem.kind == KIND_RECHECK_TAKEDOWN)).all()
            assert any(
                item.payload["case_id"] == case_id and item.available_at > item.created_at for item in later
            )
            url = case.listing.url
        demo_market.admin("POST", f"/admin/remove/{listing_id_of(url)}")
        self._recheck(settings, case_id)
        with open_database(settings).session() as session:
            case = session.get(Case, case_id)
            assert case is not None and case.status == "removed"
            assert case.listing.status == "gone"
