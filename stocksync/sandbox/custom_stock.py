"""The custom channel emulator's stock: one pushed item applied (compare-and-set when the body
names an expected quantity) and answered, and the stock read, paged or cursor-paged as the config says.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from stocksync.channels.custom import CursorPaging, CustomChannelConfig, build, get_field
from stocksync.sandbox.custom_state import CustomListing, CustomState, whole_number

__all__ = ["push_item", "read_page"]


def push_item(state: CustomState, config: CustomChannelConfig, item: Any) -> dict[str, Any]:
    """Apply one pushed item and answer for it with the config's result names."""
    fields, results = config.push.body, config.push.results
    listing_id = str(get_field(item, fields.id_field))
    quantity, expected = (
        get_field(item, fields.quantity_field),
        get_field(item, fields.expected_field),
    )
    listing = state.listings.get(listing_id)

    def answer(values: tuple[str, ...], fallback: str, message: str | None) -> dict[str, Any]:
        status, shown = (values or (fallback,))[0], listing.quantity if listing else None
        return build({results.id_field: listing_id, results.status_field: status,
                      results.message_field: message, results.quantity_field: shown})  # fmt: skip

    if listing is None:
        return answer(results.rejected, "rejected", f"unknown listing {listing_id}")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        return answer(results.rejected, "rejected", "quantity must be a whole number, 0 or more")
    if expected is not None and expected != listing.quantity:
        return answer(results.conflict, "conflict", f"expected {expected}, is {listing.quantity}")
    listing.quantity = quantity
    return answer(results.ok, "ok", None)


def _listing_json(config: CustomChannelConfig, listing: CustomListing) -> dict[str, Any]:
    read = config.read
    return build({read.id_field: listing.listing_id, read.sku_field: listing.sku,
                  read.quantity_field: listing.quantity})  # fmt: skip


def read_page(
    state: CustomState, config: CustomChannelConfig, request: Request
) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of listings and its headers, paged the way the config says."""
    paging, params = config.read.paging, request.query_params
    listings = [_listing_json(config, x) for x in state.listings.values()]
    if isinstance(paging, CursorPaging):
        start = whole_number(params.get(paging.cursor_param, "0"), paging.cursor_param)
        size = whole_number(params.get(paging.limit_param or "", str(paging.limit)), "limit")
        following = str(start + size) if start + size < len(listings) else None
        body = build({config.read.list_key: listings[start : start + size]})
        return body | build({paging.next_cursor_field: following}), {}
    page = whole_number(params.get(paging.page_param, "1"), paging.page_param)
    size = whole_number(
        params.get(paging.per_page_param, str(paging.per_page)), paging.per_page_param
    )
    pages = (len(listings) + size - 1) // size
    headers = {paging.total_pages_header: str(pages)} if paging.total_pages_header else {}
    return build({config.read.list_key: listings[(page - 1) * size : page * size]}), headers
