"""On PostgreSQL, restore the two partial unique indexes that keep one running attempt per
device and per job (DESIGN invariant 1: the database enforces it, not only the code).

Migration 0015 dropped the attempt's single-column indexes on `device` and `job`
(`db_index=False`). On PostgreSQL Django's AlterField drops every plain B-tree index on the
column that is not one of the model's `Meta.indexes`, and the constraints
`posting_attempt_one_running_per_device` and `..._per_job` are such indexes (a partial unique
constraint is a unique index there): they went with it, while the migration state still lists
them. SQLite rebuilds the table from the model state and kept them. Each is created here
where it is missing; creating it fails, naming it, if running attempts already break it.
"""

from django.db import migrations

NAMES = ("posting_attempt_one_running_per_device", "posting_attempt_one_running_per_job")


def restore_constraints(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    attempt = apps.get_model("posting", "Attempt")
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, attempt._meta.db_table)
    for constraint in attempt._meta.constraints:
        if constraint.name in NAMES and constraint.name not in present:
            schema_editor.add_constraint(attempt, constraint)


class Migration(migrations.Migration):
    dependencies = [("posting", "0021_job_category_type_index_removed")]

    # Nothing to undo: the constraints belong to the schema before and after this migration.
    operations = [
        migrations.RunPython(restore_constraints, migrations.RunPython.noop, elidable=False)
    ]
