"""On PostgreSQL, a trigram index for the job list's search (`job_id` icontains).

Django writes `icontains` as `UPPER("job_id"::text) LIKE UPPER('%term%')`; a B-tree cannot
answer a pattern with a leading wildcard, so the search read every job (189 ms at 100,000). A
GIN index of that same expression's trigrams answers it from the index. pg_trgm ships with
PostgreSQL and is a trusted extension (13+): the database's owner can create it without being
a superuser. SQLite needs nothing: it scans the job ids' own unique index.
"""

from django.db import migrations

INDEX = "posting_job_id_search"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f'CREATE INDEX "{INDEX}" ON "posting_job" '
        '    USING gin ((UPPER("job_id"::text)) gin_trgm_ops)'
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other tables or databases' objects may use it.
    schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("posting", "0018_pending_wait_indexes_without_nulls")]

    operations = [migrations.RunPython(create_trigram_index, drop_trigram_index, elidable=False)]
