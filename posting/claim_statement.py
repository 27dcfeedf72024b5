"""The claim as one SQL statement: `UPDATE job ... WHERE id = (eligible subquery) AND status =
pending RETURNING ...`.

The runner claims once per job, so the claim's cost is the orchestration's cost: building the
eligibility query through the ORM took several milliseconds of CPU per job, more than the
database spent answering it. Django has no UPDATE ... RETURNING, so the statement is written
here once, on the model's tables, and only its parameters change from one claim to the next.
It needs RETURNING (SQLite 3.35+, PostgreSQL); elsewhere the same subquery is read first and
the row is then claimed by the ORM's conditional UPDATE (see posting.lifecycle.claim_next).

Eligibility is decided inside the statement, from the rows as they are when it runs: the job
is due, its account is the device's, not held (or its cooldown ended) and has no running job,
the device is enabled, not draining nor quarantined, and neither the fleet, the device's host
nor the account's platform is paused. Pacing (interval, daily cap, window in the account's
time zone) is computed in Python from the accounts read just before; the caller passes the
accounts it allows.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime

from django.db import connection

from devices.models import Device, DeviceHealth
from posting import statements
from posting.models import Account, AccountStatus, FleetControl, Job, JobStatus, PauseSwitch
from posting.models.choices import PauseScope

# The job's columns the claim returns: what running the attempt and recording its outcome read.
RETURNED = (
    "id",
    "job_id",
    "account_id",
    "video_path",
    "caption",
    "attempts",
    "max_attempts",
    "pass_number",
    "priority",
    "post_url",
)


# The subqueries that do not depend on the candidate row (running jobs' accounts, paused
# platforms) are written uncorrelated: the database computes each once per claim, not once per
# pending job of the device (both columns are NOT NULL, so NOT IN means what it says).
@functools.lru_cache(maxsize=64)
def _eligible_ids(account_count: int, skip_locked: bool) -> str:
    """The subquery: the id of the device's next eligible job (highest priority, then oldest)."""
    q = connection.ops.quote_name
    job, account, device = (q(m._meta.db_table) for m in (Job, Account, Device))
    fleet, switch = q(FleetControl._meta.db_table), q(PauseSwitch._meta.db_table)
    accounts = ", ".join(["%s"] * account_count)
    lock = " FOR UPDATE OF j SKIP LOCKED" if skip_locked else ""
    return f"""
        SELECT j.id FROM {job} j INNER JOIN {account} a ON a.id = j.account_id
        WHERE j.status = %(pending)s AND j.account_id IN ({accounts}) AND a.device_id = %(device)s
          AND (j.retry_at IS NULL OR j.retry_at <= %(now)s)
          AND (j.scheduled_at IS NULL OR j.scheduled_at <= %(now)s)
          AND (a.status = %(active)s OR (a.status = %(rate_limited)s AND a.held_until <= %(now)s))
          AND j.account_id NOT IN (SELECT r.account_id FROM {job} r WHERE r.status = %(running)s)
          AND NOT EXISTS (SELECT 1 FROM {fleet} f WHERE f.paused)
          AND a.platform NOT IN (
            SELECT p.name FROM {switch} p WHERE p.paused AND p.scope = %(platform_scope)s)
          AND EXISTS (
            SELECT 1 FROM {device} d
            WHERE d.id = %(device)s AND d.enabled AND NOT d.draining
              AND NOT (d.health = %(quarantined)s AND d.quarantined_until IS NOT NULL
                       AND d.quarantined_until > %(now)s)
              AND NOT EXISTS (
                SELECT 1 FROM {switch} h
                WHERE h.paused AND h.scope = %(host_scope)s AND h.name = d.host))
        ORDER BY j.priority DESC, j.id
        LIMIT 1{lock}"""


def _subquery(account_count: int) -> str:
    # PostgreSQL: concurrent claimers skip each other's candidate row. SQLite: the IMMEDIATE
    # transaction already holds the write lock, so nothing can interleave.
    return _eligible_ids(account_count, connection.features.has_select_for_update_skip_locked)


@functools.lru_cache(maxsize=256)
def _positional(sql: str) -> tuple[str, tuple[str | None, ...]]:
    """The statement with %s placeholders, and the name behind each (None: an account id).

    Written with named parameters for reading; both backends' drivers take %s. Cached: the
    runner sends the same few statements again and again."""
    out, slots, rest = [], [], sql
    while (at := rest.find("%")) >= 0:
        out.append(rest[:at] + "%s")
        if rest.startswith("%s", at):
            slots.append(None)
            rest = rest[at + 2 :]
        else:
            end = rest.index(")s", at)
            slots.append(rest[at + 2 : end])
            rest = rest[end + 2 :]
    out.append(rest)
    return "".join(out), tuple(slots)


def _execute(sql: str, values: dict, account_ids: list[int]) -> tuple | None:
    statement, params = _bound(sql, values, account_ids)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def _bound(sql: str, values: dict, account_ids: list[int]) -> tuple[str, list]:
    """The statement with %s placeholders and its parameters in their order."""
    statement, slots = _positional(sql)
    ids = iter(account_ids)
    return statement, [next(ids) if slot is None else values[slot] for slot in slots]


def _values(device_pk: int, now: datetime) -> dict:
    return {
        "pending": JobStatus.PENDING,
        "running": JobStatus.RUNNING,
        "device": device_pk,
        "now": connection.ops.adapt_datetimefield_value(now),
        "active": AccountStatus.ACTIVE,
        "rate_limited": AccountStatus.RATE_LIMITED,
        "quarantined": DeviceHealth.QUARANTINED,
        "platform_scope": PauseScope.PLATFORM,
        "host_scope": PauseScope.HOST,
    }


def claim_returning(
    device_pk: int,
    account_ids: list[int],
    token: uuid.UUID,
    now: datetime,
    target: str,
    opening: tuple[str, list] | None = None,
) -> tuple | None:
    """Claim the device's next eligible job in one UPDATE; the job's RETURNED columns, or None
    when no job was eligible or a concurrent claimer took it first (no row updated).

    `opening`: an INSERT of the attempt from the claimed row (statements.insert_from on
    `claimed`), sent in the same statement as a WITH query (PostgreSQL); the row then ends
    with the attempt's key. Nothing is inserted when nothing was claimed, and an insert the
    database refuses fails the whole statement, the claim with it."""
    q = connection.ops.quote_name
    subquery = _subquery(len(account_ids))
    at = connection.ops.adapt_datetimefield_value(now)
    lease = Job._meta.get_field("lease_token").get_db_prep_value(token, connection)
    sql = (
        f"UPDATE {q(Job._meta.db_table)} SET status = %(target)s, lease_token = %(lease)s, "
        "device_id = %(device)s, claimed_at = %(at)s, attempts = attempts + 1, "
        "cancel_requested = %(false)s, updated_at = %(at)s "
        f"WHERE id = ({subquery}) AND status = %(pending)s "
        f"RETURNING {', '.join(RETURNED)}"
    )
    values = {**_values(device_pk, now), "target": target, "lease": lease, "at": at, "false": False}
    if opening is None:
        return _execute(sql, values, account_ids)
    return statements.claimed_and_opened(_bound(sql, values, account_ids), opening, RETURNED)


def eligible_row(device_pk: int, account_ids: list[int], now: datetime) -> tuple | None:
    """The device's next eligible job's RETURNED columns, read (not claimed): for databases
    without UPDATE ... RETURNING, which then claim it by its id."""
    q = connection.ops.quote_name
    subquery = _subquery(len(account_ids))
    sql = f"SELECT {', '.join(RETURNED)} FROM {q(Job._meta.db_table)} WHERE id = ({subquery})"
    return _execute(sql, _values(device_pk, now), account_ids)
