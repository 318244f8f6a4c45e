"""The GraphQL documents the Shopify connector sends, and what an orders page costs.

The orders page sizes are fixed here so the requested cost is known before the call is paced,
and so is what an identity lookup of inventory items costs.
"""

from __future__ import annotations

__all__ = [
    "ADJUST_QUANTITIES",
    "FULFILLMENT_CREATE",
    "FULFILLMENT_ORDERS",
    "ITEMS_AT_LOCATION",
    "LEVELS_AT_LOCATION",
    "LEVELS_BY_ID",
    "LINES_PER_ORDER",
    "ORDERS",
    "ORDERS_PER_PAGE",
    "REFUND_CREATE",
    "SET_QUANTITIES",
    "items_cost",
    "orders_cost",
]

ORDERS_PER_PAGE = 10
LINES_PER_ORDER = 40


SET_QUANTITIES = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""

ADJUST_QUANTITIES = """
mutation AdjustQuantities($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { code field message }
  }
}"""

LEVELS_BY_ID = """
query LevelsById($ids: [ID!]!) {
  nodes(ids: $ids) { ... on InventoryLevel { id quantities(names: ["available"]) { name quantity } } }
}"""

ITEMS_AT_LOCATION = """
query ItemsAtLocation($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) { ... on InventoryItem { id sku inventoryLevel(locationId: $location) { id } } }
}"""

LEVELS_AT_LOCATION = """
query Levels($location: ID!, $after: String) {
  location(id: $location) {
    inventoryLevels(first: 250, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { item { id sku } quantities(names: ["available"]) { name quantity } }
    }
  }
}"""

ORDERS = f"""
query Orders($query: String, $after: String) {{
  orders(first: {ORDERS_PER_PAGE}, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name createdAt updatedAt cancelledAt displayFinancialStatus
      lineItems(first: {LINES_PER_ORDER}) {{ nodes {{ id sku quantity variant {{ id }} }} }}
      refunds {{ refundLineItems(first: {LINES_PER_ORDER}) {{ nodes {{ quantity restockType lineItem {{ id }} }} }} }}
    }}
  }}
}}"""

FULFILLMENT_ORDERS = """
query FulfillmentOrders($id: ID!) {
  order(id: $id) {
    fulfillmentOrders(first: 10) {
      nodes { id lineItems(first: 40) { nodes { id remainingQuantity lineItem { id } } } }
    }
  }
}"""

FULFILLMENT_CREATE = """
mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}"""

REFUND_CREATE = """
mutation Refund($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id }
    userErrors { field message }
  }
}"""


def orders_cost() -> int:
    """Requested cost of one orders page: each order 1 plus its two nested connections."""
    return 2 + ORDERS_PER_PAGE * (1 + 2 * (2 + LINES_PER_ORDER))


def items_cost(count: int) -> int:
    """Requested cost of ``ITEMS_AT_LOCATION`` for ``count`` ids: each item 1, its level 1."""
    return 2 * count
