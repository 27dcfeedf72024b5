"""The per-job statements written once (posting.statements) give what the ORM gives.

Each is compared with the ORM's own answer on the same rows: every field of the instances a
compiled read returns (with its select_related), a row inserted or updated, read back.
"""

import uuid
from datetime import timedelta

import pytest

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
