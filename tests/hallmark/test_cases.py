"""The case queue: flagged listings open cases, and every move a case makes is checked and logged."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from case_world import (
    CROPPED_DA_001,
    MIRRORED_DA_002,
    UNRELATED,
    World,
    add_listing,
    case_of,
    flag,
    run_matching,
)
from sqlalchemy import func, select, update

from hallmark import cases
from hallmark.cases import TRANSITIONS, CaseStatus
from hallmark.db import Case, CaseEvent, ListingImage, SuppressedMatch, WorkItem
from hallmark.errors import ConflictError
from hallmark.labels import labels, labels_csv
from hallmark.sellers import add_authorised_seller
from hallmark.takedowns import mark_sent, prepare_notice, record_recheck

S = CaseStatus


def _count_cases(world: World) -> int:
    with world.database.session() as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def _move(world: World, case_id: int, *path: CaseStatus) -> Case:
    with world.database.session() as session:
        for to in path:
            if to == S.TAKEDOWN_REQUESTED:
                prepare_notice(session, case_id, "rita", world.settings)
            elif to == S.TAKEDOWN_SENT:
                mark_sent(session, case_id, "rita")
            else:
                cases.transition(session, case_id, to, "rita")
        return cases.get_case(session, case_id)


def test_a_flagged_listing_opens_one_case_with_every_risk_reason(world: World) -> None:
    with world.database.session() as session:
        add_authorised_seller(session, "Demo Apparel", "demo", "Official Store", "admin")
    image_id = add_listing(
        world.settings,
        CROPPED_DA_001,
        url="https://market.example/item/1",
        title="Jacket REPLICA 1:1 AAA quality",
        price="12.00",
        seller="cheap-jackets",
        quantity=900,
        listed_at=datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert run_matching(world.settings) == 1
    case = case_of(world.database, image_id)
    assert case.status == "open" and case.verdict in ("copy", "product")
    codes = {reason["code"] for reason in case.risk_reasons}
    assert codes == {
        f"image_{case.verdict}",
        "suspicious_words",
        "price_far_below",
        "unauthorised_seller",
        "before_release",
        "over_batch",
    }
    assert 0.99 < case.risk_score <= 1.0
    with world.database.session() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(event.action, event.actor) for event in events] == [("opened", "worker")]


def test_an_unrelated_photo_opens_no_case(world: World) -> None:
    add_listing(world.settings, UNRELATED, url="https://market.example/item/2")
    run_matching(world.settings)
    assert _count_cases(world) == 0


def test_matching_a_listing_again_updates_its_active_case_rather_than_opening_another(world: World) -> None:
    image_id = add_listing(
        world.settings, MIRRORED_DA_002, url="https://market.example/item/3", price="85.00"
    )
    run_matching(world.settings)
    first = case_of(world.database, image_id)
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/3", price="5.00")
    run_matching(world.settings)
    again = case_of(world.database, image_id)
    assert again.id == first.id and _count_cases(world) == 1
    assert again.risk_score > first.risk_score
    assert "price_far_below" in {reason["code"] for reason in again.risk_reasons}


def test_an_authorised_seller_keeps_the_case_but_lowers_its_risk(world: World) -> None:
    with world.database.session() as session:
        add_authorised_seller(session, "demo apparel", "DEMO", "  Official   Store ", "admin")
    authorised = add_listing(
        world.settings, MIRRORED_DA_002, url="https://m.example/a", seller="official store"
    )
    other = add_listing(world.settings, MIRRORED_DA_002, url="https://m.example/b", seller="someone")
    for image_id in (authorised, other):
        flag(world.database, world.settings, image_id, "DA-002", score=0.95)
    low, high = case_of(world.database, authorised), case_of(world.database, other)
    assert "authorised_seller" in {reason["code"] for reason in low.risk_reasons}
    assert "unauthorised_seller" in {reason["code"] for reason in high.risk_reasons}
    assert low.risk_score < high.risk_score


def test_a_case_goes_the_whole_way_from_open_to_removed_and_logs_every_step(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/4")
    case_id = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    _move(world, case_id, S.IN_REVIEW, S.CONFIRMED, S.TAKEDOWN_REQUESTED, S.TAKEDOWN_SENT)
    with world.database.session() as session:
        still_there = record_recheck(session, case_id, listing_gone=False)
        assert still_there.status == "takedown_sent"
        removed = record_recheck(session, case_id, listing_gone=True)
        assert removed.status == "removed" and removed.closed_at is not None
        assert removed.removed_at is not None and removed.takedown_sent_at is not None
        assert removed.removed_at >= removed.takedown_sent_at
        assert removed.listing.status == "gone"
        moves = [
            (event.from_status, event.to_status, event.actor)
            for event in cases.case_events(session, case_id)
            if event.action == "transition"
        ]
    assert moves == [
        ("open", "in_review", "rita"),
        ("in_review", "confirmed", "rita"),
        ("confirmed", "takedown_requested", "rita"),
        ("takedown_requested", "takedown_sent", "rita"),
        ("takedown_sent", "removed", "worker"),
    ]


def test_every_move_not_in_the_life_cycle_is_refused_with_the_allowed_ones(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/5")
    case_id = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    refused = 0
    for current in CaseStatus:
        for target in CaseStatus:
            if target in TRANSITIONS[current]:
                continue
            with world.database.session() as session:
                # Put the case in the state under test directly: the moves into it are tested above.
                session.execute(update(Case).where(Case.id == case_id).values(status=current.value))
            with (
                pytest.raises(ConflictError, match=f"from {current} to {target}") as raised,
                world.database.session() as session,
            ):
                cases.transition(session, case_id, target, "rita")
            allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
            assert allowed in str(raised.value)
            refused += 1
    assert refused == 64 - sum(len(targets) for targets in TRANSITIONS.values())


@pytest.mark.parametrize("decision", [S.DISMISSED, S.NOT_A_MATCH])
def test_dismissed_and_not_a_match_cases_can_be_reopened(world: World, decision: CaseStatus) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/6")
    case_id = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    closed = _move(world, case_id, S.IN_REVIEW, decision)
    assert closed.closed_at is not None and closed.reviewed_at is not None
    reopened = _move(world, case_id, S.OPEN)
    assert (reopened.status, reopened.closed_at) == ("open", None)


def test_a_not_a_match_decision_is_remembered_for_that_image_and_reference(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/7")
    case_id = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    _move(world, case_id, S.NOT_A_MATCH)
    # The same photo on another listing, against the same reference: remembered, no new case.
    elsewhere = add_listing(world.settings, MIRRORED_DA_002, url="https://other.example/item/8")
    outcome = flag(world.database, world.settings, elsewhere, "DA-002")
    assert outcome.opened == [] and len(outcome.suppressed) == 1
    # The same photo against another product's reference still flags.
    assert len(flag(world.database, world.settings, elsewhere, "DA-005").opened) == 1
    # Reopening takes the decision back.
    _move(world, case_id, S.OPEN)
    with world.database.session() as session:
        assert session.scalar(select(func.count()).select_from(SuppressedMatch)) == 0
    assert len(flag(world.database, world.settings, elsewhere, "DA-002").opened) == 1


def test_a_listing_dismissed_for_a_product_is_not_reopened_by_new_matches(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/9")
    case_id = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    _move(world, case_id, S.DISMISSED)
    assert flag(world.database, world.settings, image_id, "DA-002").opened == []
    assert _count_cases(world) == 1


def test_reopening_is_refused_while_the_listing_has_another_active_case_for_the_product(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/item/10")
    first = flag(world.database, world.settings, image_id, "DA-002").opened[0]
    _move(world, first, S.NOT_A_MATCH)
    # The listing changes its photo: a new photo, a new case for the same product.
    new_photo = add_listing(world.settings, CROPPED_DA_001, url="https://market.example/item/10")
    second = flag(world.database, world.settings, new_photo, "DA-002").opened[0]
    assert second != first
    with pytest.raises(ConflictError, match=f"case {second} is already active"):
        _move(world, first, S.OPEN)


def test_reviewer_decisions_are_kept_as_labels_and_exported(world: World) -> None:
    decisions = {}
    for number, decision in enumerate([S.CONFIRMED, S.NOT_A_MATCH, S.DISMISSED]):
        image_id = add_listing(world.settings, MIRRORED_DA_002, url=f"https://market.example/label/{number}")
        sku = ("DA-002", "DA-005", "DA-006")[number]
        case_id = flag(world.database, world.settings, image_id, sku, score=0.6 + number / 10).opened[0]
        _move(world, case_id, S.IN_REVIEW, decision)
        decisions[case_id] = (decision.value, sku)
    with world.database.session() as session:
        rows = labels(session)
    assert {row["case_id"]: (row["decision"], row["sku"]) for row in rows} == decisions
    assert [row["is_match"] for row in rows] == [True, False, True]
    assert all(row["reviewer"] == "rita" and len(row["image_sha256"]) == 64 for row in rows)
    parsed = list(csv.DictReader(io.StringIO(labels_csv(rows))))
    assert [(row["decision"], row["is_match"]) for row in parsed] == [
        ("confirmed", "True"),
        ("not_a_match", "False"),
        ("dismissed", "True"),
    ]
    with world.database.session() as session:
        assert labels(session, since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_a_bulk_action_moves_each_case_on_its_own(world: World) -> None:
    ids = []
    for number in range(3):
        image_id = add_listing(world.settings, MIRRORED_DA_002, url=f"https://market.example/bulk/{number}")
        ids.append(flag(world.database, world.settings, image_id, "DA-002").opened[0])
    _move(world, ids[1], S.DISMISSED)
    with world.database.session() as session:
        outcomes = cases.bulk(
            session, [*ids, 999_999], "rita", to=S.IN_REVIEW, assignee="rita", set_assignee=True, note="batch"
        )
    assert [(o.case_id, o.ok) for o in outcomes] == [
        (ids[0], True),
        (ids[1], False),
        (ids[2], True),
        (999_999, False),
    ]
    assert "cannot go from dismissed to in_review" in (outcomes[1].error or "")
    with world.database.session() as session:
        moved = [cases.get_case(session, case_id) for case_id in ids]
        assert [(case.status, case.assignee) for case in moved] == [
            ("in_review", "rita"),
            ("dismissed", None),
            ("in_review", "rita"),
        ]


def test_a_stored_photo_that_is_not_an_image_fails_its_work_item_for_good(world: World) -> None:
    image_id = add_listing(world.settings, MIRRORED_DA_002, url="https://market.example/broken")
    with world.database.session() as session:
        image = session.get(ListingImage, image_id)
        assert image is not None and image.stored_path is not None
        (world.settings.resolved_home / image.stored_path).write_bytes(b"GIF89a not really")
    run_matching(world.settings)
    with world.database.session() as session:
        item = session.scalars(select(WorkItem)).one()
    assert item.status == "failed" and "GIF" in (item.error or "")
    assert _count_cases(world) == 0
