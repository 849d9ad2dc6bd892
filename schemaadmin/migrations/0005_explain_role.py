"""Create the NOLOGIN role the EXPLAIN console runs queries as: read access to data and statistics, nothing else.

Roles belong to the whole server. Where the migrating user may not create roles (managed services), this
leaves a notice instead of failing; the system check schemaadmin.W010 then says which safety layer is missing.
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
        CREATE ROLE schemaadmin_explain NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS;
    END IF;
    GRANT pg_read_all_data, pg_read_all_stats TO schemaadmin_explain;
    -- SET ROLE needs membership unless the app connects as a superuser.
    EXECUTE format('GRANT schemaadmin_explain TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'Cannot create role schemaadmin_explain: %', SQLERRM;
END
$$;
"""

DROP = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'schemaadmin_explain') THEN
        DROP ROLE schemaadmin_explain;
    END IF;
EXCEPTION WHEN insufficient_privilege OR dependent_objects_still_exist THEN
    RAISE NOTICE 'Cannot drop role schemaadmin_explain: %', SQLERRM;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("schemaadmin", "0004_user_lookup_indexes")]

    operations = [migrations.RunSQL(CREATE, DROP, elidable=False)]
