# Events and chain roots are append-only: the database itself refuses UPDATE and DELETE.
#
# PostgreSQL: one trigger function, BEFORE UPDATE OR DELETE row triggers on both tables.
# TRUNCATE is not refused (the test suite flushes with it); see docs/audit.md.
# SQLite: BEFORE UPDATE and BEFORE DELETE triggers raising ABORT (an IntegrityError).
# ``weifei flush`` (weifei/core/management/commands/flush.py) lifts the SQLite DELETE
# triggers for the duration of a whole-database flush and restores them in the same
# transaction.

from django.db import migrations, models

EVENT_MESSAGE = "事件记录只能追加，不可修改或删除"
ROOT_MESSAGE = "链根记录只能追加，不可修改或删除"
TABLES = (("core_event", EVENT_MESSAGE), ("core_chainroot", ROOT_MESSAGE))

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION weifei_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0]
        USING ERRCODE = 'restrict_violation', DETAIL = TG_OP || ' ON ' || TG_TABLE_NAME;
END;
$$
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, None)  # no parameters: the % is plpgsql's
        for table, message in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION weifei_append_only('{message}')"
            )
    elif vendor == "sqlite":
        for table, message in TABLES:
            for op in ("update", "delete"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op} BEFORE {op.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table, _message in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS weifei_append_only()")
    elif vendor == "sqlite":
        for table, _message in TABLES:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_event_chain_backfill")]

    operations = [
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(fields=("stream", "seq"), name="uniq_event_stream_seq"),
        ),
        migrations.RunPython(create, drop),
    ]
