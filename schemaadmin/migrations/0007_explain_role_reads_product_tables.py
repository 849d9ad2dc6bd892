"""Narrow the EXPLAIN role from pg_read_all_data to SELECT on the chat product's own tables.

With pg_read_all_data the role could read django_session and auth_user. EXPLAIN ANALYZE returns no rows,
but whether a run fails is still one bit of any value (1/0 on a condition), enough to rebuild a session key
over a few hundred runs. The console is for the product's queries, so it reads the product's tables and the
statistics views, nothing of SchemaAdmin's own. A table added to the product later needs its own GRANT here.
"""

from django.db import migrations

NARROW = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
        REVOKE pg_read_all_data FROM schemaadmin_explain;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO schemaadmin_explain', current_schema());
        GRANT SELECT ON TABLE users, conversations, conversation_messages, conversation_preferences,
            knowledge_base_documents, knowledge_base_chunks TO schemaadmin_explain;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'Cannot change the grants of schemaadmin_explain: %', SQLERRM;
END
$$;
"""

WIDEN = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
        REVOKE SELECT ON TABLE users, conversations, conversation_messages, conversation_preferences,
            knowledge_base_documents, knowledge_base_chunks FROM schemaadmin_explain;
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM schemaadmin_explain', current_schema());
        GRANT pg_read_all_data TO schemaadmin_explain;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'Cannot change the grants of schemaadmin_explain: %', SQLERRM;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("schemaadmin", "0006_audit_actor_index")]

    operations = [migrations.RunSQL(NARROW, WIDEN, elidable=False)]
