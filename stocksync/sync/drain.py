"""The push pipeline: send every dirty listing's latest desired quantity to its channel.

``drain`` works channel by channel: it leases a batch of due dirty listings (at most the
connector's ``max_batch``), pushes them in one call, and records each outcome in its own short
transaction. No database lock is held during the HTTP call. What happens to a listing:

* applied: the channel shows the quantity; the listing stays dirty only if the desired quantity
  moved on meanwhile (it is then claimed again in the same drain);
* applied after a rebase (the connector met a count below what we expected and pushed again at
  once, less the units sold that we have not heard of): the shortfall becomes unheard sales and
  the push is recorded as applied against that count, in one transaction;
* conflict (compare-and-set): the channel's count is taken in (units it sold beyond what we
  expected become unheard sales, held back from the next push until their orders arrive), the
  ``on_conflict`` hook runs, and the listing is pushed again in a later round of the same drain;
  after ``max_conflicts`` conflicts in a row it pauses for a short jittered moment (contention,
  not a failure: no attempt is counted);
* conflict that wrote (a delta that met more than expected): the count it left is taken in as
  what the channel shows, and an attempt is counted, so the next push is a compare-and-set;
* retry later, or a transient error for the whole call: attempts + 1 and exponential backoff with
  full jitter, never sooner than the channel's ``Retry-After``; the channel's round ends there, and
  the versions that failed wait for a later drain (a newer version of the listing may go at once);
* rejected (the listing, or our credentials): the error is kept and a longer backoff applies;
  a listing the channel refused ``MAX_REFUSALS`` times in a row is ``refused``: held back for a
  person, never pushed again until one clears it (``stocksync listing retry``).

Before its first push (and after its id changed) a listing's id is checked: the channel must
hold the ledger's SKU under it (``ChannelConnector.identify``). One that does not is
``mismatched`` and never pushed, so a wrong id in a catalog moves no other product's stock.

One failing listing never blocks its batch-mates, and one failing channel never blocks the
others. Pacing stays in the connectors: this module never sleeps, but a connector that paces
(Amazon) may wait for capacity before the drain claims, so a claim goes out at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlmodel import Session

from stocksync.channels.base import ChannelConnector, PushResult, PushStatus, QuantityPush
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    TransientChannelError,
)
from stocksync.domain.clock import utcnow
from stocksync.domain.listing_identity import ListingState, identity_problem, refused_for_good
from stocksync.domain.listing_state import Applied, ClaimedListing, Failed, Identified, Rebased
from stocksync.ledger.push_leases import channel_ids, claim_dirty, count_due, release
from stocksync.ledger.push_outcomes import record_identities, record_seen, write_back
from stocksync.ledger.service import Ledger
from stocksync.ledger.sync_lag import record_push_timing
from stocksync.sync.backoff import RetryPolicy
from stocksync.sync.report import ChannelReport, DrainReport, Outcome, PushRecord
from stocksync.sync.reserves import ReserveReleaser
from stocksync.sync.shown_probe import PROBES

__all__ = ["ConflictHook", "ConflictedListing", "DrainReport", "drain", "read_back"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

KEEP_UP_POLL_S = 0.1
"""How often a channel done with its drain looks for new changes while others still push."""
ROUND_S = 1.0
"""How long one channel's round of a multi-channel drain claims new batches; short rounds keep
every channel's "did I find work" fresh, so none gives up while a slow one keeps pushing."""


@dataclass(frozen=True, slots=True)
class ConflictedListing:
    channel_id: int
    listing_id: int
    external_id: str
    sku: str
    quantity_seen: int | None


ConflictHook = Callable[[str, Sequence[ConflictedListing]], None]
"""Called with the channel's name and the listings whose compare-and-set failed (or was rebased on
a lower count), after the count the channel reported was taken in. The order-ingest step plugs in
here: read the channel's recent orders, record them, and the recomputed listings go out next
round."""


def read_back(ledger: Ledger, connectors: Mapping[str, ChannelConnector]) -> ConflictHook:
    """The default hook: ask the channel for counts it did not report, and expect those.

    It does not ingest the orders behind a conflict; until the ingest step runs, a unit the
    channel sold may be pushed back once more.
    """

    def hook(channel: str, conflicted: Sequence[ConflictedListing]) -> None:
        unknown = [c for c in conflicted if c.quantity_seen is None]
        if not unknown:
            return
        shown = connectors[channel].read_quantities([c.external_id for c in unknown])
        seen = {q.listing_id: q.quantity for q in shown}
        ledger.call(record_seen, unknown[0].channel_id, seen)

    return hook


def drain(
    ledger: Ledger,
    connectors: Mapping[str, ChannelConnector],
    *,
    worker_id: str,
    on_conflict: ConflictHook | None = None,
    retry: RetryPolicy | None = None,
    limit: int = 10_000,
    max_conflicts: int = 3,
    lease_s: float = 300.0,
    clock: Callable[[], datetime] = utcnow,
) -> DrainReport:
    """Push every due dirty listing of each channel in ``connectors`` (keyed by channel name).

    Channels drain side by side, one thread each: a slow or rate-limited channel (Amazon's five
    patches a second) never holds back the others. ``limit`` bounds the pushes per channel in one
    drain; ``lease_s`` must outlast one call to the channel (the connectors' timeouts and pacing
    included).
    """
    report = DrainReport(worker_id)
    ids = ledger.call(channel_ids, list(connectors))
    hook = on_conflict or read_back(ledger, connectors)
    runs = []
    for name, connector in connectors.items():
        rep = report.channel(name)
        if name not in ids:
            rep.error = "the ledger has no channel of this name"
            continue
        runs.append((name, _ChannelDrain(ledger, connector, ids[name], rep, hook,
                     retry or RetryPolicy(), clock, f"{worker_id}:{uuid.uuid4().hex[:12]}",
                     lease_s)))  # fmt: skip
    if len(runs) == 1:
        _run_channel(*runs[0], limit, max_conflicts)
    elif runs:
        busy = _Busy([n for n, _ in runs])
        releaser = ReserveReleaser(ledger)
        with ThreadPoolExecutor(len(runs), thread_name_prefix="drain") as pool:
            futures = [
                pool.submit(_run_while_busy, n, r, limit, max_conflicts, busy, releaser)
                for n, r in runs
            ]
            for done in futures:
                done.result()
    return report


def _run_channel(
    name: str, run: _ChannelDrain, limit: int, max_conflicts: int, round_s: float | None = None
) -> None:
    try:
        run.run(limit, max_conflicts, round_s)
    except Exception as exc:  # one channel's failure never stops the others
        log.exception("draining %s failed", name)
        run.rep.error = f"{type(exc).__name__}: {exc}"


class _Busy:
    """Which channels of one drain found work in their last round (all, before their first).

    The drain ends for every channel at once, the first time none did: a channel that left alone
    would sit out the rest of a drain that a slow channel keeps going (and wait for the next
    run), so either all keep taking their changes or all stop.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self._working = set(names)
        self._over = False
        self._lock = threading.Lock()

    def note(self, name: str, worked: bool) -> None:
        with self._lock:
            (self._working.add if worked else self._working.discard)(name)

    def keep_going(self) -> bool:
        with self._lock:
            self._over = self._over or not self._working
            return not self._over


def _run_while_busy(
    name: str,
    run: _ChannelDrain,
    limit: int,
    max_conflicts: int,
    busy: _Busy,
    releaser: ReserveReleaser,
) -> None:
    """Drain one channel in rounds of at most ``ROUND_S`` of claiming, and keep taking its new
    changes while any channel of the drain found work in its last round, so a fast channel's
    sync gap is not the slowest channel's drain time; the drain ends for all once the last
    round of every channel found nothing (:class:`_Busy`).

    An error in one round does not end this: the listings it hit back off in the ledger and are
    not claimed again before they are due, and the channel's other listings keep going out
    (a rate-limited channel can keep a drain busy for a whole flash sale). Refused credentials
    do: every call would be refused the same way.

    Between rounds the keepers' reserves that have settled are released (``releaser``): a drain
    can last a whole flash sale."""
    while not run.refused:
        before = len(run.rep.records)
        try:
            _run_channel(name, run, limit, max_conflicts, ROUND_S)
        finally:
            busy.note(name, len(run.rep.records) > before)
        releaser.maybe()
        if not busy.keep_going():
            return
        time.sleep(KEEP_UP_POLL_S)
    busy.note(name, False)


@dataclass
class _ChannelDrain:
    ledger: Ledger
    connector: ChannelConnector
    channel_id: int
    rep: ChannelReport
    hook: ConflictHook
    retry: RetryPolicy
    clock: Callable[[], datetime]
    owner: str
    lease_s: float
    conflicts: Counter[int] = field(default_factory=Counter)
    refused: bool = False
    """The channel refused our credentials in this drain: leave it alone."""
    failed: dict[int, int] = field(default_factory=dict)
    """Listing id → the version whose push failed in this drain: that version waits for a later
    drain even if its backoff ends sooner; a newer version (a new sale) may go at once."""

    def run(self, limit: int, max_conflicts: int, round_s: float | None = None) -> None:
        """Claim and push until nothing is due or ``limit`` listings went out; with ``round_s``,
        claim no new batch after that many seconds (the caller comes back for the rest)."""
        claimed_total = 0
        deadline = None if round_s is None else time.monotonic() + round_s
        while claimed_total < limit and (deadline is None or time.monotonic() < deadline):
            size = self._batch_size(min(self.connector.max_batch, limit - claimed_total), deadline)
            if size == 0:
                return
            claimed_at = time.monotonic()
            batch, attempts = self.ledger.run(partial(self._claim, size))
            if not batch:
                return
            claimed_total += len(batch)
            if not self._push(batch, attempts, max_conflicts, claimed_at):
                return

    def _batch_size(self, most: int, deadline: float | None) -> int:
        """``most``, or less where the connector would rather take the backlog in small calls
        (0: nothing is due). A connector that paces its calls is first given the chance to wait
        until one could go out (``await_capacity``, at most until the round's ``deadline``), so
        the listings are claimed when they can be sent, with the newest quantities."""
        plan = getattr(self.connector, "batch_size", None)
        if plan is None:
            return most
        backlog = self.ledger.run(lambda s: count_due(s, self.channel_id, self.clock()))
        if backlog == 0:
            return 0
        ready = getattr(self.connector, "await_capacity", None)
        if ready is not None and plan(backlog) < most:  # small calls (not a feed): paced
            ready(ROUND_S if deadline is None else max(0.0, deadline - time.monotonic()))
        return max(1, min(most, plan(backlog)))

    def _claim(self, size: int, session: Session) -> tuple[list[ClaimedListing], dict[int, int]]:
        return claim_dirty(
            session, channel_id=self.channel_id, owner=self.owner, limit=size,
            now=self.clock(), lease_s=self.lease_s, skip=self.failed.items(),
        )  # fmt: skip

    def _push(
        self,
        batch: list[ClaimedListing],
        attempts: dict[int, int],
        max_conflicts: int,
        claimed_at: float,
    ) -> bool:
        """Push one batch and record it; False when the channel should be left for this drain."""
        checked, go_on = self._call(batch, attempts, lambda: self._identified(batch))
        if checked is None:
            return go_on
        if not checked:
            return True
        cas = self.connector.compare_and_set
        # after a failed attempt the channel's count is in doubt (a timed-out call may have
        # landed): no delta and no rebase on it until a compare-and-set has confirmed a count
        pushes = [
            QuantityPush(li.external_id, li.push_qty, li.shown_qty if cas else None, li.refs,
                         li.sku, rebase=attempts[li.id] == 0)
            for li in checked
        ]  # fmt: skip
        results, go_on = self._call(checked, attempts, lambda: self._send(pushes))
        if results is None:
            return go_on
        self._record(checked, attempts, results, max_conflicts, claimed_at)
        return True

    def _call(
        self, batch: list[ClaimedListing], attempts: dict[int, int], call: Callable[[], _T]
    ) -> tuple[_T | None, bool]:
        """``call()`` to the channel for ``batch``: (its result, or None when it failed as a
        whole, recorded on every listing of the batch; whether this drain goes on with the
        channel). Only refused credentials end it; anything else raised gives the leases back."""
        try:
            return call(), True
        except TransientChannelError as exc:
            self._fail_all(batch, attempts, exc, transient=True)
            return None, False
        except ChannelError as exc:
            self._fail_all(batch, attempts, exc, transient=False)
            self.refused = self.refused or isinstance(exc, ChannelAuthError)
            return None, not self.refused
        except BaseException:
            self.ledger.call(release, self.owner, [li.id for li in batch])
            raise

    def _identified(self, batch: list[ClaimedListing]) -> list[ClaimedListing]:
        """The batch less the listings whose id the channel does not hold for their SKU.

        Unverified listings are looked up on the channel first; those that match turn active and
        go out in this push, the others turn mismatched (recorded, reported, never pushed).
        """
        unverified = [li for li in batch if li.state == ListingState.UNVERIFIED]
        if not unverified:
            return batch
        found = self.connector.identify([(li.external_id, li.refs) for li in unverified])
        checks = [
            Identified(listing=li, channel_sku=ident.sku, problem=identity_problem(
                li.sku, found=ident.found, channel_sku=ident.sku, problem=ident.problem))
            for li, ident in zip(unverified, found, strict=True)
        ]  # fmt: skip
        ours = self.ledger.call(record_identities, self.owner, checks)
        for check in checks:
            if check.problem is not None:
                self._note(check.listing, ours, Outcome.MISMATCHED, check.problem)
        checked = {c.listing.id: c.problem is None and c.listing.id in ours for c in checks}
        return [
            replace(li, state=ListingState.ACTIVE) if li.id in checked else li
            for li in batch
            if checked.get(li.id, True)
        ]

    def _send(self, pushes: list[QuantityPush]) -> list[PushResult]:
        """One call; a call the channel refuses as a whole is halved until the culprit is alone.

        Transient and auth errors of the first call propagate (the channel is unwell); after a
        half has been applied, a transient error only marks the rest for retry.
        """
        try:
            return _by_position(pushes, self.connector.push_quantities(pushes))
        except ChannelRejectedError as exc:
            if len(pushes) == 1:
                return [PushResult(pushes[0].listing_id, PushStatus.REJECTED, message=str(exc))]
        # part of the refused call may have landed: the halves go as compare-and-set
        pushes = [replace(p, rebase=False) for p in pushes]
        half = len(pushes) // 2
        first = self._send(pushes[:half])
        try:
            rest = self._send(pushes[half:])
        except TransientChannelError as exc:
            rest = [
                PushResult(p.listing_id, PushStatus.RETRY_LATER, message=str(exc),
                           retry_after=exc.retry_after)
                for p in pushes[half:]
            ]  # fmt: skip
        return first + rest

    def _record(
        self,
        batch: list[ClaimedListing],
        attempts: dict[int, int],
        results: list[PushResult],
        max_conflicts: int,
        claimed_at: float,
    ) -> None:
        applied, conflicts, failed, rebased, written = [], [], [], [], []
        for li, r in zip(batch, results, strict=True):
            if r.status is PushStatus.APPLIED:
                if r.applied_quantity is not None and r.quantity_seen is not None:
                    rebased.append(
                        Rebased(listing=li, seen=r.quantity_seen, quantity=r.applied_quantity)
                    )
                else:
                    applied.append(Applied(listing=li, quantity=li.push_qty))
                self.conflicts.pop(li.id, None)
                continue
            if r.status is PushStatus.CONFLICT and r.written:
                written.append((li, r.quantity_seen))  # always taken in: the count moved
                continue
            if r.status is PushStatus.CONFLICT:
                self.conflicts[li.id] += 1
                if self.conflicts[li.id] <= max_conflicts:
                    conflicts.append((li, r.quantity_seen))
                    continue
            failed.append(self._failure(li, attempts[li.id], r))
        self.failed.update((f.listing.id, f.listing.version) for f in failed if f.counted)
        pushed = [a.listing for a in applied] + [r.listing for r in rebased]
        since = _changed_since(pushed, attempts, claimed_at)
        ours = self.ledger.run(
            lambda s: self._write_back(
                s,
                since,
                {li.id for li in pushed},
                applied=applied,
                conflicts=conflicts,
                failed=failed,
                rebased=rebased,
                written=written,
            )  # fmt: skip
        )
        shown = [(a.listing.external_id, a.quantity) for a in applied if a.listing.id in ours]
        shown += [(r.listing.external_id, r.quantity) for r in rebased if r.listing.id in ours]
        if shown and self.applies_late:
            PROBES.start(self.ledger, self.connector, self.channel_id, shown[-1], since)
        for a in applied:
            self._note(a.listing, ours, Outcome.PUSHED)
        for r in rebased:
            why = f"pushed {r.quantity}: the channel showed {r.seen}, units sold not heard of yet"
            self._note(r.listing, ours, Outcome.PUSHED, why, quantity=r.quantity)
        for li, seen in conflicts:
            self._note(li, ours, Outcome.CONFLICT, f"the channel showed {seen}")
        for li, seen in written:
            why = f"the channel showed more than expected; {seen} after the push"
            self._note(li, ours, Outcome.CONFLICT, why)
        for f in failed:
            self._note_failure(f, ours)
        # a rebased push met unheard sales too: the hook may go and fetch their orders
        met = [*conflicts, *written, *((r.listing, r.seen) for r in rebased)]
        mine = [
            ConflictedListing(self.channel_id, li.id, li.external_id, li.sku, seen)
            for li, seen in met
            if li.id in ours
        ]
        if mine:
            self.hook(self.rep.channel, mine)

    @property
    def applies_late(self) -> bool:
        return bool(getattr(self.connector, "applies_late", False))

    def _write_back(
        self, session: Session, since: float, pushed: set[int], **outcomes: Any
    ) -> set[int]:
        """Record the batch's outcomes and, if any of the ``pushed`` listings was applied, how
        long it took since the ledger changed them (``since``, monotonic; :func:`_changed_since`;
        a read-back measures channels that apply late, ``stocksync.sync.shown_probe``)."""
        now = self.clock()
        ours = write_back(
            session, self.owner, now=now, last_write_wins=not self.connector.compare_and_set,
            **outcomes,
        )  # fmt: skip
        if ours & pushed:
            seconds = time.monotonic() - since
            record_push_timing(session, self.channel_id, seconds, read_back=False, now=now)
        return ours

    def _failure(self, li: ClaimedListing, attempts: int, r: PushResult) -> Failed:
        n = attempts + 1
        if r.status is PushStatus.REJECTED:
            held = refused_for_good(li.refusals + 1)
            return Failed(listing=li, error=r.message or "rejected",
                          delay_s=self.retry.rejected(n), attempts=attempts, rejected=True,
                          refusal=True, refused=held)  # fmt: skip
        if r.status is PushStatus.CONFLICT:
            self.conflicts.pop(li.id, None)
            reason = f"kept conflicting: {r.message}" if r.message else "kept conflicting"
            return Failed(listing=li, error=reason, delay_s=self.retry.contended(),
                          attempts=attempts, counted=False)  # fmt: skip
        return Failed(listing=li, error=r.message or "retry later",
                      delay_s=self.retry.transient(n, r.retry_after), attempts=attempts)  # fmt: skip

    def _fail_all(
        self, batch: list[ClaimedListing], attempts: dict[int, int], exc: ChannelError,
        *, transient: bool,
    ) -> None:  # fmt: skip
        self.rep.error = f"{type(exc).__name__}: {exc}"
        failed = []
        for li in batch:
            n = attempts[li.id] + 1
            if transient:
                retry_after = getattr(exc, "retry_after", None)
                delay = self.retry.transient(n, retry_after)
            else:
                delay = self.retry.rejected(n)
            failed.append(Failed(listing=li, error=str(exc), delay_s=delay,
                                 attempts=attempts[li.id], rejected=not transient))  # fmt: skip
        self.failed.update((li.id, li.version) for li in batch)
        ours = self.ledger.run(lambda s: write_back(s, self.owner, failed=failed, now=self.clock()))
        for f in failed:
            self._note_failure(f, ours)

    def _note_failure(self, f: Failed, ours: set[int]) -> None:
        if f.refused:
            why = f"refused {f.refusals} times in a row, held back: {f.error}"
            self._note(f.listing, ours, Outcome.REFUSED, why)
        else:
            outcome = Outcome.REJECTED if f.rejected else Outcome.RETRY
            self._note(f.listing, ours, outcome, f.error, f.delay_s)

    def _note(
        self, li: ClaimedListing, ours: set[int], outcome: Outcome, message: str = "",
        retry_in_s: float | None = None, quantity: int | None = None,
    ) -> None:  # fmt: skip
        self.rep.records.append(
            PushRecord(
                self.rep.channel,
                li.id,
                li.external_id,
                li.sku,
                li.version,
                li.push_qty if quantity is None else quantity,
                outcome if li.id in ours else Outcome.LOST_LEASE,
                message,
                retry_in_s,
            )  # fmt: skip
        )


def _changed_since(
    pushed: Sequence[ClaimedListing], attempts: Mapping[int, int], claimed_at: float
) -> float:
    """When (monotonic) the ledger changed the first of the pushed listings that went out on
    their first attempt, or the claim if that was earlier: the push's sample runs from there, so
    it counts the wait for a worker (its wake-up, the flow run, the other channels' rounds) as
    well as the call. A listing retried after a failure counts from its claim only: its wait was
    a backoff, not the pipeline's gap."""
    now_wall, now_mono = utcnow(), time.monotonic()
    origins = [
        now_mono - (now_wall - li.changed_at).total_seconds()
        for li in pushed
        if li.changed_at is not None and attempts.get(li.id, 0) == 0
    ]
    return min([claimed_at, *origins])


def _by_position(pushes: list[QuantityPush], results: list[PushResult]) -> list[PushResult]:
    """Results in the pushes' order; a listing the connector did not answer for is retried."""
    if len(results) == len(pushes) and all(
        r.listing_id == p.listing_id for p, r in zip(pushes, results, strict=True)
    ):
        return results
    by_id = {r.listing_id: r for r in results}
    missing = PushStatus.RETRY_LATER
    return [
        by_id.get(p.listing_id) or PushResult(p.listing_id, missing, message="no result")
        for p in pushes
    ]
