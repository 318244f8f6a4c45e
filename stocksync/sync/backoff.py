"""How long a listing waits before its next push after a failure.

Exponential backoff with full jitter (a uniform draw between zero and the capped exponential
step), so listings that failed together do not all come back at the same moment. A channel's own
``Retry-After`` is a floor: it is never pushed again sooner than the channel asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 2.0
    """First step for transient failures (throttling, 5xx, timeouts)."""
    cap_s: float = 600.0
    rejected_base_s: float = 60.0
    """First step when the channel refused the listing or our credentials: a person must act."""
    rejected_cap_s: float = 6 * 3600.0
    contended_s: float = 0.5
    """Longest pause for a listing whose compare-and-set kept meeting new sales within one drain:
    contention, not a failure, so it neither grows nor counts as a failed attempt."""
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def contended(self) -> float:
        """Delay for a listing that kept conflicting: a short draw, so racing writers part."""
        return self.rng.uniform(self.contended_s / 2, self.contended_s)

    def transient(self, attempts: int, retry_after: float | None = None) -> float:
        """Delay after the ``attempts``-th failure in a row (1 for the first)."""
        step = min(self.cap_s, self.base_s * 2 ** max(attempts - 1, 0))
        return max(self.rng.uniform(0, step), retry_after or 0.0)

    def rejected(self, attempts: int) -> float:
        step = min(self.rejected_cap_s, self.rejected_base_s * 2 ** max(attempts - 1, 0))
        return self.rng.uniform(step / 2, step)
