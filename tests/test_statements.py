"""The per-job statements written once (posting.statements) give what the ORM gives.

Each is compared with the ORM's own answer on the same rows: every field of the instances a
compiled read returns (with its select_related), a row inserted or updated, read back.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from posting import statements
from posting.models import Account, Attempt, Job, JobStatus
from tests.factories import NOW, make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def _job_with_device(job_id: str):
    return Job.objects.select_related("account__device").filter(job_id=job_id)


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_compiled_read_gives_the_orms_instances_with_their_related_rows():
    device = make_device("phone-9", capabilities={"script": {"J-1": ["success"]}}, host="rack")
    account = make_account("@read", device=device, held_until=NOW)
    make_job("J-1", account=account, scheduled_at=NOW, lease_token=uuid.uuid4(), priority=-3)
    make_job("J-2", account=account)

    for job_id in ("J-1", "J-2", "J-1"):  # the second J-1 reuses the compiled plan
        (compiled,) = statements.read(_job_with_device, job_id)
        orm = _job_with_device(job_id).get()
        assert _fields(compiled) == _fields(orm)
        assert _fields(compiled.account) == _fields(orm.account)
        assert _fields(compiled.account.device) == _fields(orm.account.device)
    assert statements.read(_job_with_device, "no-such-job") == []


def test_an_insert_and_an_update_store_what_the_orm_would():
    job = make_job("J-3", account=make_account(device=make_device()))
    token = uuid.uuid4()
    attempt = statements.insert(
        Attempt(
            job=job,
            device=job.account.device,
            pass_number=1,
            number=1,
            started_at=NOW,
            lease_token=token,
            lease_expires_at=NOW + timedelta(seconds=30),
        )
    )
    stored = Attempt.objects.get(pk=attempt.pk)
    assert stored.lease_token == token and stored.started_at == NOW
    assert stored.lease_expires_at == NOW + timedelta(seconds=30)

    values = {"status": JobStatus.RUNNING, "lease_token": token, "claimed_at": NOW}
    (pk,) = statements.prepared(Job, {"id": job.pk})
    assert statements.update(Job, values, "id = %s", [pk], increments=("attempts",)) == 1
    job.refresh_from_db()
    assert (job.status, job.lease_token, job.claimed_at, job.attempts) == (
        JobStatus.RUNNING,
        token,
        NOW,
        1,
    )
    assert statements.update(Account, {"posts_on_day": 2}, "id = %s", [-1]) == 0


def _account_read(device_pk: int):
    return Account.objects.filter(device_id=device_pk).order_by("handle")


def _posts_on_day(account) -> tuple[str, list]:
    sql, params = statements.update_statement(Account, {"posts_on_day": 5}, "id = %s", [account.pk])
    return f"{sql} RETURNING posts_on_day", params


def test_statements_in_one_message_run_in_order_each_seeing_the_writes_before_it():
    device = make_device()
    account = make_account("@first", device=device)
    make_account("@second", device=device)
    read = statements.Read(_account_read, device.pk)
    assert read.instances is None
    written, rows = statements.in_one_message([_posts_on_day(account), read.statement])
    assert written == [(5,)]
    instances = read.load(rows)
    assert read.instances is instances
    assert [(a.handle, a.posts_on_day) for a in instances] == [("@first", 5), ("@second", 0)]
    assert [_fields(a) for a in instances] == [_fields(a) for a in _account_read(device.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_in_one_message_raises_and_its_transaction_writes_nothing():
    account = make_account(device=make_device())
    failing = ("SELECT id FROM no_such_table WHERE id = %s", [-1])
    with pytest.raises(DatabaseError), transaction.atomic():
        statements.in_one_message([_posts_on_day(account), failing, _posts_on_day(account)])
    account.refresh_from_db()
    assert account.posts_on_day == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's simple protocol")
def test_one_message_is_one_execute_unless_the_connections_cursor_binds_on_the_server(
    monkeypatch,
):
    import psycopg

    account = make_account(device=make_device())
    parts = [_posts_on_day(account), ("SELECT %s", [1])]
    with CaptureQueriesContext(connection) as context:
        assert statements.in_one_message(parts) == [[(5,)], [(1,)]]
    assert len(context.captured_queries) == 1
    # A cursor that binds on the server (server_side_binding, or a cursor_factory in the
    # OPTIONS, which Django prefers) takes one statement per execute: one by one.
    monkeypatch.setattr(connection.connection, "cursor_factory", psycopg.Cursor)
    with CaptureQueriesContext(connection) as context:
        assert statements.in_one_message(parts) == [[(5,)], [(1,)]]
    assert len(context.captured_queries) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the message's own merging")
@pytest.mark.django_db(transaction=True)
def test_a_value_that_cannot_be_sent_in_a_message_raises_djangos_error_and_writes_nothing():
    # psycopg merges the message's values itself (mogrify), outside Django's execute: a text
    # PostgreSQL cannot hold must still be a DatabaseError, which the runner recovers from.
    account = make_account(device=make_device())
    unsendable = ("SELECT %s", ["a NUL \x00 in a text"])
    with pytest.raises(DatabaseError), transaction.atomic():
        statements.in_one_message([_posts_on_day(account), unsendable])
    account.refresh_from_db()
    assert account.posts_on_day == 0


@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00")))
def test_any_text_comes_back_unchanged_through_a_message(text):
    """Values are merged into the message's text before it is sent: quotes, backslashes,
    percent signs and placeholders in a value stay the value."""
    parts = [("SELECT %s", [text]), ("SELECT %s, '%%s'", [text + "%s"])]
    assert statements.in_one_message(parts) == [[(text,)], [(text + "%s", "%s")]]


TEXT_FIELDS = [
    (model, field.name)
    for model in (Account, Attempt, Job)
    for field in model._meta.concrete_fields
    if isinstance(field, models.CharField | models.TextField)
]


@given(
    at=st.sampled_from(TEXT_FIELDS),
    value=st.one_of(st.none(), st.text(), st.sampled_from(list(JobStatus))),
)
def test_a_prepared_text_value_is_what_the_fields_own_preparation_gives(at, value):
    model, name = at
    field = model._meta.get_field(name)
    assert statements.prepared(model, {name: value}) == [field.get_db_prep_save(value, connection)]
