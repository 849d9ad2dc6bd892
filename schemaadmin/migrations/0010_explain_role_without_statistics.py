"""Take pg_read_all_stats (and any pg_read_all_data left over) from the EXPLAIN role, and re-grant its reads.

pg_stat_activity holds other sessions' literal values (a support agent's search for an email): reading it is not
the console's business. Migration 0007 could not finish where the migrating role is not a superuser (its REVOKE
needs the ADMIN option, and one failing statement undid its GRANTs too), so each step here stands on its own.
Role memberships need a role administrator: where the migrating role is not one, this leaves a notice, and
`manage.py create_explain_role` (run by an administrator) or the system check schemaadmin.W011 finish the job.
"""

from django.db import migrations

FORWARD = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
        RETURN;
    END IF;
    BEGIN
        IF pg_has_role('schemaadmin_explain', 'pg_read_all_stats', 'MEMBER') THEN
            REVOKE pg_read_all_stats FROM schemaadmin_explain;
        END IF;
        IF pg_has_role('schemaadmin_explain', 'pg_read_all_data', 'MEMBER') THEN
            REVOKE pg_read_all_data FROM schemaadmin_explain;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'Cannot change the memberships of schemaadmin_explain: %', SQLERRM;
    END;
    BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO schemaadmin_explain', current_schema());
        GRANT SELECT ON TABLE users, conversations, conversation_messages, conversation_preferences,
            knowledge_base_documents, knowledge_base_chunks TO schemaadmin_explain;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'Cannot grant reads to schemaadmin_explain: %', SQLERRM;
    END;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("schemaadmin", "0009_drift_checks")]

    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop, elidable=False)]
