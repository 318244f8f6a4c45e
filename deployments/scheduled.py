"""The scheduled flows of one machine, served by one process (``python -m deployments.scheduled``).

``stocksync up`` starts this beside the receiver and the sync worker: order polling every minute,
the low-stock safety net every 15 minutes, the Slack digest each morning and the ledger check each
night. A multi-machine install deploys the same flows from ``prefect.yaml`` to a work pool instead.
"""

from __future__ import annotations

import argparse

from prefect import serve

from flows.low_stock_alerts import low_stock_alerts
from flows.poll_orders import poll_orders
from flows.verify_ledger import verify_ledger


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poll-every", type=int, default=60, help="Seconds between order polls.")
    args = parser.parse_args(argv)
    serve(
        poll_orders.to_deployment(name="every-minute", interval=args.poll_every),
        low_stock_alerts.to_deployment(name="safety-net", interval=900),
        low_stock_alerts.to_deployment(
            name="daily-digest", cron="0 7 * * *", parameters={"digest": True}
        ),
        verify_ledger.to_deployment(name="nightly", cron="30 2 * * *"),
        limit=4,
    )


if __name__ == "__main__":
    main()
