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
time zone) is computed in Python from the accounts read just before, and the caller passes
the accounts it allows; or, on PostgreSQL, by the statement itself (`PACED`, held to
Account.next_post_allowed_at by a property test), for a claim sent in one message with the
writes before it, where no read can come between.
"""

from __future__ import annotations

import functools
import re
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


# Account.next_post_allowed_at(now) <= now, on the account's row `a` and `local`, the date
# and time of `now` in the account's time zone (PostgreSQL). Each condition mirrors one of its
# candidates: the interval since the last post, the day's cap (counted on the local day it was
# counted), the window (one that wraps midnight when its start is after its end).
PACED_LOCAL = "CROSS JOIN LATERAL (SELECT %(now)s AT TIME ZONE a.timezone AS at) local"
PACED = """
          AND NOT (a.min_post_interval <> INTERVAL '0' AND a.last_posted_at IS NOT NULL
                   AND a.last_posted_at + a.min_post_interval > %(now)s)
          AND NOT (a.daily_cap IS NOT NULL AND a.daily_cap <= CASE
                     WHEN a.posts_day = local.at::date THEN a.posts_on_day ELSE 0 END)
          AND (a.window_start IS NULL OR a.window_end IS NULL OR CASE
                 WHEN a.window_start <= a.window_end
                   THEN local.at::time >= a.window_start AND local.at::time < a.window_end
                 ELSE local.at::time >= a.window_start OR local.at::time < a.window_end
               END)"""


# The subqueries that do not depend on the candidate row (running jobs' accounts, paused
# platforms) are written uncorrelated: the database computes each once per claim, not once per
# pending job of the device (both columns are NOT NULL, so NOT IN means what it says).
@functools.lru_cache(maxsize=64)
def _eligible_ids(account_count: int | None, skip_locked: bool) -> str:
    """The subquery: the id of the device's next eligible job (highest priority, then oldest),
    among `account_count` accounts given as parameters, or (None) among all the device's,
    paced by the statement."""
    q = connection.ops.quote_name
    job, account, device = (q(m._meta.db_table) for m in (Job, Account, Device))
    fleet, switch = q(FleetControl._meta.db_table), q(PauseSwitch._meta.db_table)
    pending, running = _literal(JobStatus.PENDING), _literal(JobStatus.RUNNING)
    active, limited = _literal(AccountStatus.ACTIVE), _literal(AccountStatus.RATE_LIMITED)
    platform, host = _literal(PauseScope.PLATFORM), _literal(PauseScope.HOST)
    quarantined = _literal(DeviceHealth.QUARANTINED)
    if account_count is None:
        local, accounts = PACED_LOCAL, PACED
    else:
        local, accounts = "", f"AND j.account_id IN ({', '.join(['%s'] * account_count)})"
    lock = " FOR UPDATE OF j SKIP LOCKED" if skip_locked else ""
    return f"""
        SELECT j.id FROM {job} j INNER JOIN {account} a ON a.id = j.account_id {local}
        WHERE j.status = {pending} {accounts} AND a.device_id = %(device)s
          AND (j.retry_at IS NULL OR j.retry_at <= %(now)s)
          AND (j.scheduled_at IS NULL OR j.scheduled_at <= %(now)s)
          AND (a.status = {active} OR (a.status = {limited} AND a.held_until <= %(now)s))
          AND j.account_id NOT IN (SELECT r.account_id FROM {job} r WHERE r.status = {running})
          AND NOT EXISTS (SELECT 1 FROM {fleet} f WHERE f.paused)
          AND a.platform NOT IN (
            SELECT p.name FROM {switch} p WHERE p.paused AND p.scope = {platform})
          AND EXISTS (
            SELECT 1 FROM {device} d
            WHERE d.id = %(device)s AND d.enabled AND NOT d.draining
              AND NOT (d.health = {quarantined} AND d.quarantined_until IS NOT NULL
                       AND d.quarantined_until > %(now)s)
              AND NOT EXISTS (
                SELECT 1 FROM {switch} h WHERE h.paused AND h.scope = {host} AND h.name = d.host))
        ORDER BY j.priority DESC, j.id
        LIMIT 1{lock}"""


def _subquery(account_count: int | None) -> str:
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


def _fetch_one(statement: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def _bound(sql: str, values: dict, account_ids: list[int] | None) -> tuple[str, list]:
    """The statement with %s placeholders and its parameters in their order."""
    statement, slots = _positional(sql)
    ids = iter(account_ids or ())
    return statement, [next(ids) if slot is None else values[slot] for slot in slots]


def _values(device_pk: int, now: datetime) -> dict:
    return {"device": device_pk, "now": connection.ops.adapt_datetimefield_value(now)}


def _literal(value: str) -> str:
    """One of the code's own choice values, written into the statement as an SQL string: the
    statements are cached, and each value sent as a parameter costs its conversion on every
    job. Never for input: only a plain lower-case word is accepted."""
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"{value!r} is not a plain choice value")
    return f"'{value}'"


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
    claim = claim_statement(device_pk, account_ids, token, now, target)
    if opening is None:
        return _fetch_one(*claim)
    return statements.claimed_and_opened(claim, opening, RETURNED)


def claim_statement(
    device_pk: int, account_ids: list[int] | None, token: uuid.UUID, now: datetime, target: str
) -> tuple[str, list]:
    """claim_returning's UPDATE ... RETURNING and its parameters, among these accounts or
    (None, PostgreSQL) among all the device's, paced by the statement (`PACED`)."""
    account_count = None if account_ids is None else len(account_ids)
    sql = _claim_sql(account_count, target, connection.features.has_select_for_update_skip_locked)
    at = connection.ops.adapt_datetimefield_value(now)
    lease = Job._meta.get_field("lease_token").get_db_prep_value(token, connection)
    values = {**_values(device_pk, now), "lease": lease, "at": at}
    return _bound(sql, values, account_ids)


@functools.lru_cache(maxsize=64)
def _claim_sql(account_count: int | None, target: str, skip_locked: bool) -> str:
    """The claim's UPDATE, written once per account count and target (every job claims)."""
    q = connection.ops.quote_name
    return (
        f"UPDATE {q(Job._meta.db_table)} SET status = {_literal(target)}, "
        "lease_token = %(lease)s, device_id = %(device)s, claimed_at = %(at)s, "
        "attempts = attempts + 1, cancel_requested = FALSE, updated_at = %(at)s "
        f"WHERE id = ({_eligible_ids(account_count, skip_locked)}) "
        f"AND status = {_literal(JobStatus.PENDING)} RETURNING {', '.join(RETURNED)}"
    )


def eligible_row(device_pk: int, account_ids: list[int], now: datetime) -> tuple | None:
    """The device's next eligible job's RETURNED columns, read (not claimed): for databases
    without UPDATE ... RETURNING, which then claim it by its id."""
    q = connection.ops.quote_name
    subquery = _subquery(len(account_ids))
    sql = f"SELECT {', '.join(RETURNED)} FROM {q(Job._meta.db_table)} WHERE id = ({subquery})"
    return _fetch_one(*_bound(sql, _values(device_pk, now), account_ids))
