"""Backoff after a failed push: full jitter, capped, never sooner than the channel asked."""

from __future__ import annotations

import random

from stocksync.sync.backoff import RetryPolicy


def test_backoff_is_full_jitter_under_a_cap_and_never_sooner_than_the_channel_asked() -> None:
    policy = RetryPolicy(base_s=2, cap_s=60, rng=random.Random(1))
    draws = [policy.transient(n) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= d <= 60 for d in draws)
    assert max(policy.transient(1) for _ in range(200)) <= 2
    assert max(policy.transient(10) for _ in range(200)) > 30
    assert min(policy.transient(1, retry_after=7.5) for _ in range(50)) == 7.5


def test_a_refused_listing_waits_far_longer_than_a_throttled_one() -> None:
    policy = RetryPolicy(rng=random.Random(2))
    assert min(policy.rejected(1) for _ in range(50)) >= policy.rejected_base_s / 2
    assert max(policy.rejected(30) for _ in range(50)) <= policy.rejected_cap_s
