#!/usr/bin/env bash
# Runs once, as the superuser, when the db container creates its data directory (docker-entrypoint-initdb.d).
# The superuser only sets the server up; SchemaAdmin connects as `schemaadmin` (owner of its database, no
# superuser) and the EXPLAIN console logs in as `schemaadmin_explain` (SELECT on the product's tables only,
# granted by the migrations). Values reach SQL through psql variables (:'name'), quoted by psql, never spliced.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v app_password="$SCHEMAADMIN_DB_PASSWORD" \
    -v explain_password="$SCHEMAADMIN_EXPLAIN_PASSWORD" <<'SQL'
CREATE ROLE schemaadmin LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
-- Every session's statistics and the server's settings (health, sessions and query pages; pg_monitor), and
-- cancelling or ending non-superuser sessions.
GRANT pg_monitor, pg_signal_backend TO schemaadmin;
CREATE ROLE schemaadmin_explain LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'explain_password';
-- Limits a console query cannot lift (temp_file_limit is superuser-only to change).
ALTER ROLE schemaadmin_explain SET default_transaction_read_only = on;
ALTER ROLE schemaadmin_explain SET temp_file_limit = '1GB';
ALTER ROLE schemaadmin_explain SET statement_timeout = '2min';
ALTER ROLE schemaadmin_explain SET idle_in_transaction_session_timeout = '2min';
ALTER ROLE schemaadmin_explain SET work_mem = '64MB';
-- New databases (ours, drift replays) get the extensions from template1: the owner may not create them.
\connect template1
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
\connect postgres
CREATE DATABASE schemaadmin OWNER schemaadmin TEMPLATE template1;
SQL
