"""What to do after a failed attempt: retry (when), fail, and whether to hold the account.

Pure: the caller passes the clock and, for tests, the random source.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from retries.taxonomy import (
    COOLDOWN_HOLD_TYPES,
    OPERATOR_HOLD_TYPES,
    ErrorCategory,
)


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_minutes: float
    max_delay_minutes: float
    jitter: float
    rate_limit_cooldown_minutes: float

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            base_delay_minutes=settings.RETRY_DELAY_MINUTES,
            max_delay_minutes=settings.RETRY_MAX_DELAY_MINUTES,
            jitter=settings.RETRY_JITTER,
            rate_limit_cooldown_minutes=settings.RATE_LIMIT_COOLDOWN_MINUTES,
        )

    def backoff(
        self,
        attempts: int,
        *,
        base_delay_minutes: float | None = None,
        rng: random.Random | None = None,
    ) -> timedelta:
        """Exponential backoff after the `attempts`-th failure, capped, with jitter."""
        base = self.base_delay_minutes if base_delay_minutes is None else base_delay_minutes
        minutes = min(self.max_delay_minutes, base * 2 ** max(0, attempts - 1))
        if self.jitter:
            minutes *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return timedelta(minutes=max(0.0, minutes))


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    retry_at: datetime | None = None
    hold_account: bool = False
    hold_until: datetime | None = None
    reason: str = ""


def decide_retry(
    category: str,
    error_type: str,
    *,
    attempts: int,
    max_attempts: int,
    now: datetime,
    policy: RetryPolicy | None = None,
    retry_delay_minutes: float | None = None,
    rng: random.Random | None = None,
) -> RetryDecision:
    """Decide the fate of a job whose `attempts`-th attempt in this pass just failed."""
    policy = policy or RetryPolicy.from_settings()
    if category == ErrorCategory.ACCOUNT:
        if error_type in COOLDOWN_HOLD_TYPES:
            cooldown = timedelta(minutes=policy.rate_limit_cooldown_minutes)
            return RetryDecision(
                retry=True,
                retry_at=now + cooldown,
                hold_account=True,
                hold_until=now + cooldown,
                reason="rate limited: retried after the platform's cooldown",
            )
        return RetryDecision(
            retry=False,
            hold_account=error_type in OPERATOR_HOLD_TYPES,
            reason="account failures are never retried",
        )
    if category == ErrorCategory.INFRASTRUCTURE:
        if attempts >= max_attempts:
            return RetryDecision(retry=False, reason=f"{attempts} of {max_attempts} attempts used")
        delay = policy.backoff(attempts, base_delay_minutes=retry_delay_minutes, rng=rng)
        return RetryDecision(retry=True, retry_at=now + delay, reason=f"backoff {delay}")
    return RetryDecision(retry=False, reason=f"{category or 'unknown'} failures are not retried")
