"""Which listing id the channel itself shows each ledger SKU under."""

from __future__ import annotations

from stocksync.domain.mapping import MapStatus, Proposal, propose_mapping

MUG, COASTER, CANDLE, SET = "TEAL-MUG-350ML", "OAK-COASTER", "BEESWAX-CANDLE", "MUG-GIFT-SET"


def statuses(proposals: list[Proposal]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {p.sku: (p.status, p.channel_ids) for p in proposals}


def test_each_ledger_sku_the_channel_shows_is_new_changed_or_ok() -> None:
    proposals = propose_mapping(
        [("101", MUG), ("202", COASTER), ("303", SET), ("404", "SOMEONE-ELSES")],
        skus=[MUG, COASTER, SET, CANDLE],
        listings={MUG: "101", COASTER: "999"},
    )

    assert statuses(proposals) == {
        COASTER: (MapStatus.CHANGE, ("202",)),
        SET: (MapStatus.NEW, ("303",)),
        MUG: (MapStatus.OK, ("101",)),
    }
    assert [p.sku for p in proposals] == [SET, COASTER, MUG]
    assert [p.sku for p in proposals if p.applies] == [SET, COASTER]
    assert (proposals[0].ledger_id, proposals[1].ledger_id) == (None, "999")


def test_a_ledger_listing_whose_sku_the_channel_does_not_show_is_not_on_channel() -> None:
    proposals = propose_mapping(
        [("101", "SOMETHING-ELSE"), ("202", None)],
        skus=[MUG, COASTER, CANDLE],
        listings={MUG: "101", COASTER: "202", CANDLE: "303"},
    )

    got = {p.sku: (p.status, p.note) for p in proposals}
    assert got == {
        MUG: (MapStatus.NOT_ON_CHANNEL, "the channel shows 'SOMETHING-ELSE' under 101"),
        COASTER: (MapStatus.NOT_ON_CHANNEL, "the channel shows 202 with no SKU"),
        CANDLE: (MapStatus.NOT_ON_CHANNEL, "the channel has no listing 303"),
    }
    assert not any(p.applies for p in proposals)


def test_a_sku_the_channel_shows_under_two_ids_is_ambiguous_and_never_applied() -> None:
    [proposal] = propose_mapping([("101", MUG), ("505", MUG)], skus=[MUG], listings={MUG: "101"})

    assert (proposal.status, proposal.channel_ids, proposal.applies) == (
        MapStatus.AMBIGUOUS,
        ("101", "505"),
        False,
    )


def test_skus_match_ignoring_case_and_blanks_as_the_identity_check_does() -> None:
    [proposal] = propose_mapping([("101", " teal-mug-350ml ")], skus=[MUG], listings={})

    assert (proposal.status, proposal.channel_ids) == (MapStatus.NEW, ("101",))


def test_an_id_another_skus_listing_keeps_is_a_conflict() -> None:
    proposals = propose_mapping(
        [("101", MUG)], skus=[MUG, COASTER], listings={MUG: "999", COASTER: "101"}
    )

    got = {p.sku: (p.status, p.note) for p in proposals}
    assert got[MUG] == (MapStatus.CONFLICT, f"101 is {COASTER}'s listing in the ledger")
    assert got[COASTER][0] == MapStatus.NOT_ON_CHANNEL


def test_ids_swapped_between_two_skus_are_both_changed() -> None:
    proposals = propose_mapping(
        [("101", MUG), ("202", COASTER)], skus=[MUG, COASTER], listings={MUG: "202", COASTER: "101"}
    )

    assert statuses(proposals) == {
        MUG: (MapStatus.CHANGE, ("101",)),
        COASTER: (MapStatus.CHANGE, ("202",)),
    }


def test_a_conflict_holds_back_the_change_that_waited_for_its_id() -> None:
    # the candle keeps 303 (the channel does not show it), so the coaster keeps 202, so the
    # mug cannot take 202
    proposals = propose_mapping(
        [("202", MUG), ("303", COASTER)],
        skus=[MUG, COASTER, CANDLE],
        listings={MUG: "101", COASTER: "202", CANDLE: "303"},
    )

    got = {p.sku: p.status for p in proposals}
    assert got == {
        MUG: MapStatus.CONFLICT,
        COASTER: MapStatus.CONFLICT,
        CANDLE: MapStatus.NOT_ON_CHANNEL,
    }
