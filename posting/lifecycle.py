"""The job's life: every change of a job's status, as one named, guarded transition.

    claim, claim_next  pending                        -> running
    succeed            running                        -> success
    fail_with_retry    running                        -> pending (retry_at set)
    fail_for_good      running                        -> failed
    send_to_review     running                        -> needs_review
    stop_cancelled     running                        -> cancelled (cancel asked before the
                                                         publishing checkpoint)
    cancel             pending, failed, needs_review  -> cancelled
    retry_now          pending                        -> pending (due now)
    requeue            failed                         -> pending, in a new pass
    review_posted      needs_review                   -> success
    review_not_posted  needs_review                   -> pending, in a new pass

The runner's outcomes, the sweep's recovery of a dead worker's attempt and the verification of
an unknown outcome all end a running job through the first six. Each transition is one
conditional UPDATE whose row count decides; asked of one job in the wrong state it raises
InvalidTransition; running-job transitions are fenced by the attempt's lease token (a worker
whose lease was taken over records nothing). The pass history (posting.models.pass_history) is
written in the same transaction, and a transition that makes work eligible now wakes the
devices concerned after commit, by itself. Nothing else in Fleetpost writes a job's status.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import (
    Case,
    DateTimeField,
    F,
    PositiveIntegerField,
    QuerySet,
    Value,
    When,
)

from posting import claim_statement, statements
from posting.input_rules import InvalidValue, checked_post_url
from posting.models import InvalidTransition, Job, JobStatus, Pass
from posting.models.choices import CANCELLABLE_JOB_STATUSES, ErrorCategory, ErrorType
from posting.models.pass_history import ENDED_IN_PASS, EntryReason, PassEntry
from posting.wakeups import wake_devices

P, R = JobStatus.PENDING, JobStatus.RUNNING


class Transition(NamedTuple):
    name: str
    sources: frozenset[str]
    target: str
    # True when the move makes work eligible now: the devices concerned are woken after commit.
    wakes: bool = False


CLAIM = Transition("claim", frozenset({P}), R)
SUCCEED = Transition("succeed", frozenset({R}), JobStatus.SUCCESS)
# The retry is due later: the device's runner (or the sweep, once it is due) picks it up.
FAIL_WITH_RETRY = Transition("fail_with_retry", frozenset({R}), P)
FAIL_FOR_GOOD = Transition("fail_for_good", frozenset({R}), JobStatus.FAILED)
SEND_TO_REVIEW = Transition("send_to_review", frozenset({R}), JobStatus.NEEDS_REVIEW)
STOP_CANCELLED = Transition("stop_cancelled", frozenset({R}), JobStatus.CANCELLED)
CANCEL = Transition("cancel", frozenset(CANCELLABLE_JOB_STATUSES), JobStatus.CANCELLED)
RETRY_NOW = Transition("retry_now", frozenset({P}), P, wakes=True)
REQUEUE = Transition("requeue", frozenset({JobStatus.FAILED}), P, wakes=True)
REVIEW_POSTED = Transition("review_posted", frozenset({JobStatus.NEEDS_REVIEW}), JobStatus.SUCCESS)
REVIEW_NOT_POSTED = Transition(
    "review_not_posted", frozenset({JobStatus.NEEDS_REVIEW}), P, wakes=True
)
TRANSITIONS = (
    CLAIM,
    SUCCEED,
    FAIL_WITH_RETRY,
    FAIL_FOR_GOOD,
    SEND_TO_REVIEW,
    STOP_CANCELLED,
    CANCEL,
    RETRY_NOW,
    REQUEUE,
    REVIEW_POSTED,
    REVIEW_NOT_POSTED,
)
ENDING_A_RUN = {t.target: t for t in (SUCCEED, FAIL_FOR_GOOD, SEND_TO_REVIEW, STOP_CANCELLED)}


class FencedWriteRefused(Exception):
    """The job no longer carries the attempt's lease token; the transaction is rolled back."""


class CancelRequested(FencedWriteRefused):
    """The job was asked to cancel: an end of its run that may not pass over that request
    was refused; the transaction is rolled back."""


class InvalidPostUrl(ValueError):
    """A reviewer's post URL that is not a plain http(s) address within the column."""


def guard(job: Job, transition: Transition) -> None:
    """Refuse, by name, a transition the job's current status does not allow."""
    if job.status not in transition.sources:
        allowed = ", ".join(sorted(transition.sources))
        raise InvalidTransition(
            f"job {job.job_id} is {job.status}: {transition.name} needs {allowed}"
        )


# --- the runner's transitions ------------------------------------------------------------------


def claim(job: Job, device, token, now: datetime, opening=None) -> bool:
    """pending -> running on `device` under lease `token`; False if someone else won. The
    winner's `job` carries the attempt count and pass as its UPDATE left them. `opening`: as
    for claim_next."""
    (source,) = CLAIM.sources
    values = {
        "status": CLAIM.target,
        "lease_token": token,
        "device": device,
        "claimed_at": now,
        "cancel_requested": False,
        "updated_at": now,
    }
    where, params = "id = %s AND status = %s", [job.pk, source]
    if opening is not None and _opens_with_claim():
        sql, claim_params = statements.update_statement(
            Job, values, where, params, increments=("attempts",)
        )
        claim = (f"{sql} RETURNING id, attempts, pass_number", claim_params)
        row = statements.claimed_and_opened(claim, _opening(opening), ("attempts", "pass_number"))
        if row is None:
            return False
        job.attempts, job.pass_number = row[:2]
        _opened(opening, job, row[2])
        return True
    if statements.supports_returning():
        row = statements.update_returning(
            Job, values, where, params, ("attempts", "pass_number"), increments=("attempts",)
        )
    elif statements.update(Job, values, where, params, increments=("attempts",)) == 1:
        row = Job.objects.filter(pk=job.pk).values_list("attempts", "pass_number").get()
    else:
        row = None
    if row is None:
        return False
    job.attempts, job.pass_number = row
    return True


def claim_next(device, account_ids: list[int], token, now: datetime, opening=None) -> Job | None:
    """pending -> running: the device's next eligible job among `account_ids`, under lease
    `token`, by one conditional UPDATE (posting.claim_statement); None when no job is eligible
    or a concurrent claimer won. The job carries the columns the attempt needs (others load
    on access).

    `opening`: the claim's new attempt (an unsaved Attempt without its job), inserted by the
    same statement where writes chain (statements.merges_writes), else left to the caller."""
    if opening is not None and _opens_with_claim():
        row = claim_statement.claim_returning(
            device.pk, account_ids, token, now, CLAIM.target, _opening(opening)
        )
        return claimed_next(row, device, token, now, opening)
    if statements.supports_returning():
        row = claim_statement.claim_returning(device.pk, account_ids, token, now, CLAIM.target)
    else:
        row = claim_statement.eligible_row(device.pk, account_ids, now)
        if row is not None:
            won = claim(Job(pk=row[0]), device, token, now)
            at = claim_statement.RETURNED.index("attempts")  # as the UPDATE left it
            row = (*row[:at], row[at] + 1, *row[at + 1 :]) if won else None
    if row is None:
        return None
    return _claimed(row, device, token, now)


def claim_next_statement(device_pk: int, token, now: datetime, opening) -> tuple[str, list]:
    """claim_next's statement with its attempt (PostgreSQL), among all the device's accounts
    and paced by the statement itself: for a claim sent in one message after other writes,
    seeing them (claimed_next reads its row)."""
    claim = claim_statement.claim_statement(device_pk, None, token, now, CLAIM.target)
    return statements.claimed_and_opened_statement(
        claim, _opening(opening), claim_statement.RETURNED
    )


def claimed_next(row: tuple | None, device, token, now: datetime, opening) -> Job | None:
    """The job a claim with its attempt returned `row` for (None: nothing was claimed), and
    `opening` inserted with it."""
    if row is None:
        return None
    job = _claimed(row[:-1], device, token, now)
    _opened(opening, job, row[-1])
    return job


def _opens_with_claim() -> bool:
    """Whether the claim's statement inserts its attempt too (a WITH query fed by the
    claim's RETURNING): where writes chain and UPDATE ... RETURNING exists."""
    return statements.merges_writes() and statements.supports_returning()


def _claimed(row: tuple, device, token, now: datetime) -> Job:
    job = Job.from_db(connection.alias, claim_statement.RETURNED, row)
    job.status, job.lease_token, job.device, job.claimed_at = CLAIM.target, token, device, now
    job.cancel_requested = False
    return job


def _opening(attempt) -> tuple[str, list]:
    """The INSERT of a claim's attempt from the claimed job's row (a WITH query `claimed`
    returning its id, attempts and pass_number): its number is the attempt count the claim
    wrote."""
    taken = {
        "job": "claimed.id",
        "number": "claimed.attempts",
        "pass_number": "claimed.pass_number",
    }
    return statements.insert_from(attempt, "claimed", taken)


def _opened(attempt, job: Job, pk: int) -> None:
    attempt.job, attempt.number, attempt.pass_number = job, job.attempts, job.pass_number
    statements.inserted(attempt, pk)


def end_run(
    attempt, target: str, now: datetime, *, unless_cancel_requested: bool = False, **fields
) -> None:
    """End the attempt's running job in `target` (see ENDING_A_RUN and FAIL_WITH_RETRY).

    Fenced by the attempt's lease token: raises FencedWriteRefused when the job no longer
    carries it, which rolls back the caller's transaction. `unless_cancel_requested`: also
    refused, with CancelRequested, when an operator asked the job to cancel (the same UPDATE
    decides; the reason is read only when it refused).
    """
    transition = FAIL_WITH_RETRY if target == P else ENDING_A_RUN[target]
    fields.setdefault("updated_at", now)
    ended = _end_held_run(attempt, transition, fields, unless_cancel_requested)
    if transition.target in ENDED_IN_PASS:
        updated = _with_pass_entry(ended, attempt.job_id, _entry(transition, fields, now))
    else:
        updated = _execute(*ended)
    if updated != 1:
        _refuse(attempt, transition, unless_cancel_requested)


def end_run_with(
    attempt,
    target: str,
    now: datetime,
    finishing: tuple[str, list],
    *,
    then: tuple[tuple[str, list], ...] = (),
    lock: tuple[str, list] | None = None,
    after: statements.MessageTail | None = None,
    unless_cancel_requested: bool = False,
    **fields,
) -> bool:
    """end_run in one statement with the attempt's own end and the writes that follow the
    job's, on PostgreSQL (statements.merges_writes): two round trips fewer on every job.
    `lock` (a statement taking a row lock) runs before it and `after`'s statements after it,
    seeing its writes, in the same message (statements.in_one_message); `after` is loaded
    with their rows (and must not be kept when this returns False or raises).

    `finishing`: WITH queries ending the attempt, one named `finished` (Attempt.finishing);
    the job's UPDATE runs only if it updated the attempt. `then`: UPDATEs (SQL ending in its
    WHERE clause, and parameters) that run only if the job's UPDATE did. False when the
    attempt was not updated (its lease was taken over): nothing was written. Refused as
    end_run when the attempt was updated and the job was not (the caller's transaction then
    rolls back the attempt's end).
    """
    transition = FAIL_WITH_RETRY if target == P else ENDING_A_RUN[target]
    fields.setdefault("updated_at", now)
    job_sql, job_params = _end_held_run(attempt, transition, fields, unless_cancel_requested)
    finishing_sql, finishing_params = finishing
    queries = [
        finishing_sql,
        f"ended AS ({job_sql} AND EXISTS (SELECT 1 FROM finished) RETURNING pass_number)",
    ]
    params = [*finishing_params, *job_params]
    if transition.target in ENDED_IN_PASS:
        where = "job_id = %s AND pass_number = (SELECT pass_number FROM ended)"
        entry = _entry(transition, fields, now)
        entry_sql, entry_params = statements.update_statement(
            PassEntry, entry, where, [attempt.job_id]
        )
        queries.append(f"entry AS ({entry_sql})")
        params += entry_params
    for n, (sql, write_params) in enumerate(then):
        queries.append(f"then{n} AS ({sql} AND EXISTS (SELECT 1 FROM ended))")
        params += write_params
    ending = (
        f"WITH {', '.join(queries)} "
        "SELECT (SELECT COUNT(*) FROM finished), (SELECT COUNT(*) FROM ended)",
        params,
    )
    before = [lock] if lock else []
    results = statements.in_one_message(
        [*before, ending, *(after.statements(now) if after else [])]
    )
    ((finished, updated),) = results[len(before)]
    if after is not None:
        after.load(results[len(before) + 1 :])
    if finished != 1:
        return False
    if updated != 1:
        _refuse(attempt, transition, unless_cancel_requested)
    return True


def _entry(transition: Transition, fields: dict, now: datetime) -> dict:
    """How the run ended, for the job's row of its current pass."""
    return {
        "outcome": transition.target,
        "error_category": fields.get("error_category", ""),
        "error_type": fields.get("error_type", ""),
        "ended_at": now,
    }


def _refuse(attempt, transition: Transition, unless_cancel_requested: bool) -> None:
    """Raise why the job's fenced UPDATE changed nothing (read only then)."""
    held = Job.objects.filter(
        pk=attempt.job_id, lease_token=attempt.lease_token, status__in=transition.sources
    )
    if unless_cancel_requested and held.filter(cancel_requested=True).exists():
        raise CancelRequested(f"job {attempt.job_id} was asked to cancel")
    raise FencedWriteRefused(f"job {attempt.job_id} is not held by attempt {attempt.pk}")


def _end_held_run(
    attempt, transition: Transition, fields: dict, unless_cancel: bool
) -> tuple[str, list]:
    """end_run's conditional UPDATE, written once (posting.statements), and its parameters.
    Only running jobs end a run, so the one source is written as one value."""
    (source,) = transition.sources
    (lease,) = statements.prepared(Job, {"lease_token": attempt.lease_token})
    where = "id = %s AND lease_token = %s AND status = %s"
    params = [attempt.job_id, lease, source]
    if unless_cancel:
        where, params = f"{where} AND cancel_requested = %s", [*params, False]
    values = {"status": transition.target, "lease_token": None, **fields}
    return statements.update_statement(Job, values, where, params)


def _with_pass_entry(ended: tuple[str, list], job_pk: int, entry: dict) -> int:
    """The job's UPDATE, then (if it was updated) how the run ended in the job's row of its
    current pass (a seek of the unique (job, pass_number)); the job's row count. On
    PostgreSQL one statement, the entry's UPDATE fed by the job's RETURNING: a round trip
    less on every job."""
    job_sql, job_params = ended
    if not statements.merges_writes():
        updated = _execute(job_sql, job_params)
        if updated == 1:
            job_table = connection.ops.quote_name(Job._meta.db_table)
            current = f"(SELECT pass_number FROM {job_table} WHERE id = %s)"
            where = f"job_id = %s AND pass_number = {current}"
            statements.update(PassEntry, entry, where, [job_pk, job_pk])
        return updated
    where = "job_id = %s AND pass_number = (SELECT pass_number FROM ended)"
    entry_sql, entry_params = statements.update_statement(PassEntry, entry, where, [job_pk])
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ended AS ({job_sql} RETURNING pass_number), entry AS ({entry_sql}) "
            "SELECT COUNT(*) FROM ended",
            [*job_params, *entry_params],
        )
        return cursor.fetchone()[0]


def _execute(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- the operators' transitions -----------------------------------------------------------------


def cancel(jobs: QuerySet, now: datetime) -> tuple[int, int]:
    """Cancel the waiting, failed and needs_review jobs among `jobs`; running ones are asked to
    stop at their next step boundary (before the publishing checkpoint). (cancelled, asked)."""
    with transaction.atomic():
        chosen = jobs.filter(status__in=CANCEL.sources)
        _record_ended(_current_entries(chosen), CANCEL.target, now)
        cancelled = chosen.update(status=CANCEL.target, retry_at=None, updated_at=now)
        stopping = jobs.filter(status=R).update(cancel_requested=True)
    return cancelled, stopping


def cancel_job(job: Job, now: datetime) -> bool:
    """Cancel one job that is not running (a running one: `request_cancel`)."""
    guard(job, CANCEL)
    cancelled, _ = cancel(Job.objects.filter(pk=job.pk, status=job.status), now)
    job.refresh_from_db(fields=["status", "retry_at", "updated_at"])
    return cancelled == 1


def request_cancel(job: Job) -> bool:
    """Ask a running job to stop at its next step boundary; its status does not change yet."""
    return Job.objects.filter(pk=job.pk, status=R).update(cancel_requested=True) == 1


def retry_now(jobs: QuerySet, now: datetime) -> int:
    """Waiting retries among `jobs` become due at once; their devices wake."""
    with transaction.atomic():
        chosen = jobs.filter(status__in=RETRY_NOW.sources, retry_at__gt=now)
        devices = _devices_of(chosen)
        moved = chosen.update(retry_at=now, updated_at=now)
        wake_devices(devices)
    return moved


def requeue_as_new_pass(
    jobs: QuerySet, *, now: datetime, started_by=None, filter_description: dict | None = None
) -> tuple[Pass | None, dict[str, int]]:
    """Move the failed jobs among `jobs` into a new pass with a fresh attempt budget.

    Earlier attempts stay; pass N's record of them is never written again: the jobs' rows in
    the new pass record that they came from pass N (its "moved on").
    Returns the pass (None when nothing matched) and how many jobs of each type moved.
    """
    return _into_new_pass(jobs, REQUEUE, EntryReason.REQUEUE, now, started_by, filter_description)


def review_posted(jobs: QuerySet, *, user, now: datetime, post_urls: dict | None = None) -> int:
    """Review: these needs_review jobs were posted. They succeed; nothing is published."""
    max_length = Job._meta.get_field("post_url").max_length
    urls = {}
    for pk, url in (post_urls or {}).items():
        try:
            urls[pk] = checked_post_url(url, max_length)
        except InvalidValue as exc:
            job_id = Job.objects.filter(pk=pk).values_list("job_id", flat=True).first()
            raise InvalidPostUrl(f"post URL of job {job_id}: {exc}") from None
    fields = {
        "status": REVIEW_POSTED.target,
        "reviewed_by": user,
        "reviewed_at": now,
        "completed_at": now,
        "updated_at": now,
        "error": "",
        "error_category": ErrorCategory.NONE,
        "error_type": ErrorType.NONE,
    }
    with transaction.atomic():
        reviewed = jobs.filter(status__in=REVIEW_POSTED.sources)
        _record_ended(_current_entries(reviewed), REVIEW_POSTED.target, now)
        with_url = {pk: url for pk, url in urls.items() if url}
        done = sum(
            reviewed.filter(pk=pk).update(post_url=url, **fields) for pk, url in with_url.items()
        )
        return done + reviewed.exclude(pk__in=with_url).update(**fields)


def review_not_posted(jobs: QuerySet, *, user, now: datetime) -> tuple[Pass | None, int]:
    """Review: these needs_review jobs were not posted. They move into one new pass."""
    with transaction.atomic():
        reviewed = jobs.filter(status__in=REVIEW_NOT_POSTED.sources)
        reviewed.update(reviewed_by=user, reviewed_at=now)
        new_pass, counts = _into_new_pass(
            reviewed,
            REVIEW_NOT_POSTED,
            EntryReason.REVIEW,
            now,
            user,
            {"source": "review: not posted"},
        )
    return new_pass, sum(counts.values())


# --- pass history -----------------------------------------------------------------------------


def _into_new_pass(
    jobs: QuerySet, transition: Transition, reason: str, now, started_by, description
) -> tuple[Pass | None, dict[str, int]]:
    with transaction.atomic():
        chosen = jobs.filter(status__in=transition.sources)
        counts = chosen.counts_by_type()
        if not counts:
            return None, {}
        new_pass = Pass.objects.create(
            number=Pass.latest_number() + 1,
            started_at=now,
            started_by=started_by,
            filter=description or {},
        )
        # The new pass's rows first, while the chosen jobs still say which pass they leave
        # (from_pass); their rows there are left as they are.
        entered = open_pass_entries(chosen, reason, now, into_pass=new_pass.number)
        # Then the jobs: where writers interleave, only those whose row was written, and a
        # chosen job that a concurrent writer took out of the sources in between stays where
        # it is, its row in the new pass dropped.
        entries = PassEntry.objects.filter(pass_number=new_pass.number)
        if _writers_interleave():
            chosen = chosen.filter(pk__in=entries.values("job_id"))
        moved = chosen.update(
            status=transition.target,
            pass_number=new_pass.number,
            attempts=0,
            retry_at=None,
            claimed_at=None,
            completed_at=None,
            error="",
            error_category=ErrorCategory.NONE,
            error_type=ErrorType.NONE,
            updated_at=now,
        )
        if moved != entered:
            entries.exclude(job__pass_number=new_pass.number).delete()
        in_new_pass = Job.objects.filter(pass_number=new_pass.number)
        new_pass.job_count = moved
        new_pass.save(update_fields=["job_count"])
        wake_devices(_devices_of(in_new_pass))
    return new_pass, counts


def open_pass_entries(
    jobs: QuerySet, reason: str, now: datetime, *, into_pass: int | None = None
) -> int:
    """Record that `jobs` entered their current pass (one INSERT ... SELECT, any number); how
    many rows it wrote.

    A job that enters already ended (a legacy progress file's success or failure) is recorded
    with that ending. `into_pass`: the jobs are about to move from their current pass into
    that one (requeue, review: not posted); they enter it waiting, from their current pass.
    """
    if into_pass is not None:
        entering = {
            "_pass": Value(into_pass),
            "_outcome": Value(""),
            "_category": Value(""),
            "_type": Value(""),
            "_ended": Value(None, output_field=DateTimeField()),
            "_from": F("pass_number"),
        }
    else:
        waiting = [P, R]
        entering = {
            "_pass": F("pass_number"),
            "_outcome": Case(When(status__in=waiting, then=Value("")), default=F("status")),
            "_category": Case(
                When(status__in=waiting, then=Value("")), default=F("error_category")
            ),
            "_type": Case(When(status__in=waiting, then=Value("")), default=F("error_type")),
            "_ended": Case(When(status__in=waiting, then=Value(None)), default=Value(now)),
            "_from": Value(None, output_field=PositiveIntegerField()),
        }
    rows = jobs.annotate(_reason=Value(reason), _at=Value(now), **entering).values_list(
        "pk",
        "_pass",
        "_reason",
        "_at",
        "_outcome",
        "_category",
        "_type",
        "_ended",
        "_from",
    )
    select, params = rows.order_by().query.sql_with_params()
    table = connection.ops.quote_name(PassEntry._meta.db_table)
    names = [
        "job_id",
        "pass_number",
        "entered_by",
        "entered_at",
        "outcome",
        "error_category",
        "error_type",
        "ended_at",
        "from_pass",
    ]
    columns = ", ".join(connection.ops.quote_name(n) for n in names)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)
        return cursor.rowcount


def _writers_interleave() -> bool:
    """Whether another transaction can commit a write between two statements of ours. Not on
    SQLite: a transaction that has written holds the database's one write lock until it ends
    (and ours are IMMEDIATE, holding it from the start)."""
    return connection.vendor != "sqlite"


def _current_entries(jobs: QuerySet) -> QuerySet:
    """The jobs' rows in their current pass: per job, a seek of the unique (job, pass_number)."""
    return PassEntry.objects.filter(job__in=jobs.values("pk"), pass_number=F("job__pass_number"))


def _record_ended(entries: QuerySet, outcome: str, now, category="", error_type="") -> None:
    entries.update(outcome=outcome, error_category=category, error_type=error_type, ended_at=now)


def _devices_of(jobs: QuerySet) -> set[int]:
    # order_by(): the job's default ordering would put its id into the DISTINCT (one row per
    # job instead of per device: 50,000 rows read to build a set of a few).
    return set(jobs.order_by().values_list("account__device_id", flat=True).distinct())
