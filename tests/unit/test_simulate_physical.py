"""The warehouse truth: orders take what is on the shelf, line by line, as the ledger does."""

from __future__ import annotations

import pytest

from stocksync.simulate.physical import PhysicalStock

KITS = {"KIT-MUG-PAIR": {"TEAL-MUG": 2}, "KIT-TEA-SET": {"TEAL-MUG": 1, "OAK-TRAY": 1}}


def test_a_line_takes_what_is_there_and_the_rest_is_short() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 3}, {})
    assert shelf.fill("o1", (("TEAL-MUG", 2),)) == [0]
    assert shelf.fill("o2", (("TEAL-MUG", 2),)) == [1]
    assert shelf.available("TEAL-MUG") == 0
    assert shelf.fill("o3", (("TEAL-MUG", 1),)) == [1]


def test_lines_of_one_order_are_filled_in_order() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 1, "OAK-TRAY": 0}, {})
    assert shelf.fill("o1", (("TEAL-MUG", 2), ("OAK-TRAY", 1))) == [1, 1]


def test_a_bundle_line_takes_whole_bundles_its_components_allow() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 5, "OAK-TRAY": 1}, KITS)
    assert shelf.available("KIT-MUG-PAIR") == 2
    assert shelf.available("KIT-TEA-SET") == 1
    assert shelf.fill("o1", (("KIT-MUG-PAIR", 3),)) == [1]
    assert shelf.available("TEAL-MUG") == 1  # the fifth mug cannot make a pair
    assert shelf.available("KIT-TEA-SET") == 1
    assert shelf.fill("o2", (("KIT-TEA-SET", 1), ("TEAL-MUG", 1))) == [0, 1]
    assert (shelf.available("TEAL-MUG"), shelf.available("OAK-TRAY")) == (0, 0)


def test_bundles_sharing_a_component_draw_on_the_same_units() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 4, "OAK-TRAY": 3}, KITS)
    shelf.fill("o1", (("KIT-TEA-SET", 2),))
    assert shelf.available("KIT-MUG-PAIR") == 1
    assert shelf.fill("o2", (("KIT-MUG-PAIR", 2),)) == [1]
    assert shelf.available("KIT-TEA-SET") == 0


def test_a_cancel_gives_back_what_the_order_took_once() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 3, "OAK-TRAY": 2}, KITS)
    shelf.fill("o1", (("KIT-TEA-SET", 3),))  # takes 2 sets, one short
    assert shelf.available("TEAL-MUG") == 1
    shelf.cancel("o1")
    assert (shelf.available("TEAL-MUG"), shelf.available("OAK-TRAY")) == (3, 2)
    shelf.cancel("o1")
    shelf.cancel("never-placed")
    assert (shelf.available("TEAL-MUG"), shelf.available("OAK-TRAY")) == (3, 2)


def test_an_order_is_filled_only_once() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 3}, {})
    shelf.fill("o1", (("TEAL-MUG", 1),))
    with pytest.raises(ValueError, match="o1"):
        shelf.fill("o1", (("TEAL-MUG", 1),))


def test_a_restock_puts_units_back_a_bundle_as_its_components() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 0, "OAK-TRAY": 0}, KITS)
    shelf.restock((("KIT-TEA-SET", 2), ("TEAL-MUG", 1)))
    assert (shelf.available("TEAL-MUG"), shelf.available("OAK-TRAY")) == (3, 2)


def test_a_return_is_capped_at_what_the_order_took_and_not_given_back_twice() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 2}, {})
    shelf.fill("o1", (("TEAL-MUG", 3),))  # 2 taken, 1 short
    assert shelf.returned("o1", (("TEAL-MUG", 3),)) == (("TEAL-MUG", 2),)
    assert shelf.returned("o1", (("TEAL-MUG", 1),)) == ()
    shelf.cancel("o1")  # nothing left to give back
    assert shelf.available("TEAL-MUG") == 0


def test_can_fill_counts_every_line_together() -> None:
    shelf = PhysicalStock({"TEAL-MUG": 2, "OAK-TRAY": 1}, KITS)
    assert shelf.can_fill((("KIT-TEA-SET", 1), ("TEAL-MUG", 1)))
    assert not shelf.can_fill((("KIT-TEA-SET", 1), ("TEAL-MUG", 2)))
    assert not shelf.can_fill((("UNKNOWN", 1),))
    assert shelf.available("TEAL-MUG") == 2  # asking takes nothing
