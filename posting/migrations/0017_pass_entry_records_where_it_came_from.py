"""A pass entry records the pass the job came from (from_pass) instead of the job's row in that
pass being rewritten (moved_on, current) by the requeue: history recorded when it happens.

The backfill gives every entry made by a requeue or "review: not posted" the number of the job's
previous entry (the highest pass below it: the one that was marked moved on). Going back
restores current (the entry of the job's pass) and moved_on (an entry came from it).
"""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery

CAME_BY_MOVING = ["requeue", "review"]


def record_where_entries_came_from(apps, schema_editor):
    PassEntry = apps.get_model("posting", "PassEntry")
    previous = (
        PassEntry.objects.filter(job_id=OuterRef("job_id"), pass_number__lt=OuterRef("pass_number"))
        .order_by("-pass_number")
        .values("pass_number")[:1]
    )
    PassEntry.objects.filter(entered_by__in=CAME_BY_MOVING).update(from_pass=Subquery(previous))


def restore_current_and_moved_on(apps, schema_editor):
    # One UPDATE, each row written once: on PostgreSQL a second write of a row this
    # transaction wrote queues a foreign-key check, and the index created next would refuse
    # to run with it pending.
    PassEntry = apps.get_model("posting", "PassEntry")
    Job = apps.get_model("posting", "Job")
    PassEntry.objects.update(
        current=Exists(Job.objects.filter(pk=OuterRef("job_id"), pass_number=OuterRef("pass_number"))),
        moved_on=Exists(
            PassEntry.objects.filter(job_id=OuterRef("job_id"), from_pass=OuterRef("pass_number"))
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("posting", "0016_pass_figures_count_moved_on_from_the_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="passentry",
            name="from_pass",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The pass the job left to enter this one (requeue, review: not posted).",
                null=True,
            ),
        ),
        migrations.RunPython(record_where_entries_came_from, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="passentry",
            name="posting_passentry_one_current_per_job",
        ),
        migrations.RemoveIndex(
            model_name="passentry",
            name="posting_passentry_figures",
        ),
        # Backwards, this runs once current and moved_on are back (with their defaults) and
        # before the one-current-per-job constraint is.
        migrations.RunPython(migrations.RunPython.noop, restore_current_and_moved_on),
        migrations.RemoveField(
            model_name="passentry",
            name="current",
        ),
        migrations.RemoveField(
            model_name="passentry",
            name="moved_on",
        ),
        migrations.AddIndex(
            model_name="passentry",
            index=models.Index(
                fields=[
                    "pass_number",
                    "entered_by",
                    "outcome",
                    "error_category",
                    "error_type",
                    "from_pass",
                ],
                name="posting_passentry_figures",
            ),
        ),
    ]
