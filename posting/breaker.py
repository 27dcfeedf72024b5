"""The platform circuit breaker: a wave of account holds on one platform pauses the platform.

When a platform tightens its checks, captchas and suspensions arrive in a wave, and every
account of that platform that keeps posting walks into the same wall. The breaker is evaluated
where an attempt holds an account, in the same transaction: once at least
PLATFORM_BREAKER_HOLDS distinct accounts of the platform are held for account reasons
(captcha, suspended, logged out) within PLATFORM_BREAKER_MINUTES, or PLATFORM_BREAKER_RATE_LIMITS
for rate limits, the platform is paused with the reason and the accounts involved, and
operators are told once. Only an operator resumes it; holds before the resume no longer count.

Exactly once: the platform's switch row is locked before counting (PostgreSQL; SQLite's
IMMEDIATE transaction serialises writers anyway), so each holder counts the holds committed
before it, and the pause is a conditional UPDATE whose row count decides who tripped it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction

from posting.models import Account, PauseScope, PauseSwitch
from posting.models.choices import ACCOUNT_REASON_HOLDS, RATE_LIMIT_HOLDS
from posting.notifications import notify

logger = logging.getLogger("posting.breaker")

# The accounts a trip records (the count in its reason is exact; the list is for reading).
RECORDED_ACCOUNTS = 50


def evaluate_after_hold(account: Account, now: datetime) -> bool:
    """Call in the transaction that has just held `account`. True if this call tripped the
    breaker (the platform is now paused; operators are notified after commit).

    A database error here is logged and rolled back to a savepoint, not raised: the hold is
    the fact that must not be lost (else the job would be retried into the same wall), and the
    next hold of the platform counts every hold in the window again.
    """
    if not settings.PLATFORM_BREAKER:
        return False
    try:
        with transaction.atomic():
            return _evaluate(account, now)
    except DatabaseError:
        logger.exception(
            "The circuit breaker of %s could not be evaluated after holding %s; "
            "the next hold evaluates it again",
            account.platform,
            account.handle,
        )
        return False


def _evaluate(account: Account, now: datetime) -> bool:
    if account.status in RATE_LIMIT_HOLDS:
        kinds, threshold, what = (
            RATE_LIMIT_HOLDS,
            settings.PLATFORM_BREAKER_RATE_LIMITS,
            "rate-limited",
        )
    elif account.status in ACCOUNT_REASON_HOLDS:
        kinds, threshold, what = (
            ACCOUNT_REASON_HOLDS,
            settings.PLATFORM_BREAKER_HOLDS,
            "held (captcha, suspended or logged out)",
        )
    else:
        return False
    platform = account.platform
    switch = PauseSwitch.locked(PauseScope.PLATFORM, platform)
    if switch.paused:
        return False  # paused already (by an operator or an earlier trip): nothing to trip
    handles = recent_holds(platform, kinds, since=window_start(switch, now))
    if len(handles) < threshold:
        return False
    minutes = settings.PLATFORM_BREAKER_MINUTES
    reason = (
        f"circuit breaker: {len(handles)} {platform} accounts {what} within {minutes:g} min "
        f"(threshold {threshold})"
    )
    tripped = PauseSwitch.pause(
        PauseScope.PLATFORM,
        platform,
        now=now,
        reason=reason,
        by_breaker=True,
        accounts=handles[:RECORDED_ACCOUNTS],
    )
    if tripped:
        message = f"Platform {platform} paused by the {reason}: {', '.join(handles[:10])}"
        logger.error("%s", message)
        transaction.on_commit(lambda: notify("platform_paused", message))
    return tripped


def window_start(switch: PauseSwitch, now: datetime) -> datetime:
    """Holds count from M minutes ago, or from the last resume if that is later."""
    start = now - timedelta(minutes=settings.PLATFORM_BREAKER_MINUTES)
    if switch.holds_count_since is not None and switch.holds_count_since > start:
        return switch.holds_count_since
    return start


def recent_holds(platform: str, kinds, *, since: datetime) -> list[str]:
    """Handles of the platform's accounts held (for one of `kinds`) since the moment, oldest
    hold first. Served by the account index on (platform, status, held_at)."""
    return list(
        Account.objects.filter(platform=platform, status__in=kinds, held_at__gt=since)
        .order_by("held_at", "pk")
        .values_list("handle", flat=True)
    )
