"""The pure rules of a listing's identity and refusals."""

from __future__ import annotations

from stocksync.domain.listing_identity import (
    MAX_REFUSALS,
    PUSHABLE,
    ListingState,
    identity_problem,
    refused_for_good,
)


def test_an_id_holding_the_ledgers_sku_may_be_pushed() -> None:
    assert identity_problem("TEAL-MUG-350ML", found=True, channel_sku="TEAL-MUG-350ML") is None


def test_skus_compare_as_channels_do_ignoring_case_and_blanks() -> None:
    assert identity_problem("TEAL-MUG-350ML", found=True, channel_sku=" teal-mug-350ml ") is None


def test_an_id_holding_another_sku_names_both() -> None:
    problem = identity_problem("OAK-COASTER", found=True, channel_sku="TEAL-MUG-350ML")
    assert problem == "the channel holds SKU 'TEAL-MUG-350ML' under this id, not 'OAK-COASTER'"


def test_an_id_the_channel_lacks_keeps_the_channels_words_or_says_so() -> None:
    assert identity_problem("OAK-COASTER", found=False, channel_sku=None, problem="no product 101")
    assert identity_problem("OAK-COASTER", found=False, channel_sku=None) == (
        "the channel has no listing under this id"
    )
    assert identity_problem("X", found=False, channel_sku=None, problem="gone") == "gone"


def test_a_channel_showing_no_sku_of_its_own_cannot_contradict_the_ledger() -> None:
    assert identity_problem("OAK-COASTER", found=True, channel_sku=None) is None


def test_only_unverified_and_active_listings_are_pushed() -> None:
    assert PUSHABLE == ("unverified", "active")
    assert not ListingState.MISMATCHED.pushable and not ListingState.REFUSED.pushable


def test_a_listing_is_refused_for_good_at_the_limit_not_before() -> None:
    assert not refused_for_good(MAX_REFUSALS - 1)
    assert refused_for_good(MAX_REFUSALS)
    assert refused_for_good(2, limit=2)
