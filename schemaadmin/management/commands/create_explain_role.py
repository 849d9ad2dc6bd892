"""Create the EXPLAIN console's own login role on an external server and print the URL to configure."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from schemaadmin.conf import app_settings
from schemaadmin.management.options import add_database_option
from schemaadmin.models import PRODUCT_MODELS
from schemaadmin.pg import roles
from schemaadmin.pg.connection import UnknownDatabase, connection_params, fetch_one, validated_alias


class Command(BaseCommand):
    help = (
        "Create (or narrow) the EXPLAIN console's login role: LOGIN, SELECT on the product's tables, member of no "
        "role, read-only with temp_file_limit. Prints SCHEMAADMIN_EXPLAIN_DATABASE_URL to set. Run it with a role "
        "that may create roles (a superuser, or CREATEROLE; --admin-url names one when the app's role may not)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--role", default=None, help="Role name (default: the EXPLAIN_ROLE setting).")
        parser.add_argument("--password", default=None, help="Its password (default: a new random one).")
        parser.add_argument(
            "--admin-url",
            default=None,
            help="postgresql://… of a role administrator to run the DDL as (default: the app's own connection).",
        )
        add_database_option(parser, help="Database alias whose tables it reads.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            using = validated_alias(options["database"])
        except UnknownDatabase as exc:
            raise CommandError(str(exc)) from None
        role = options["role"] or app_settings()["EXPLAIN_ROLE"]
        password = options["password"] or secrets.token_urlsafe(24)
        params = connection_params(using)
        row = fetch_one("SELECT current_database(), current_schema()", using=using)
        assert row is not None
        database, schema = row
        tables = [model._meta.db_table for model in PRODUCT_MODELS]
        try:
            admin = (
                psycopg.connect(options["admin_url"], autocommit=True, dbname=database)
                if options["admin_url"]
                else psycopg.connect(**params, autocommit=True)
            )
        except psycopg.Error as exc:
            raise CommandError(f"Cannot connect as the administrator: {exc}".strip()) from None
        with admin:
            refusal = roles.explain_login_refusal(admin, role, protected={params.get("user", "")})
            if refusal:
                raise CommandError(refusal)
            try:
                # One transaction: a grant refused leaves no login role behind with a password nobody was shown.
                with admin.transaction():
                    refused = roles.ensure_explain_login(admin, role, password=password)
                    roles.grant_explain_reads(admin, role, database=database, schema=schema, tables=tables)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise CommandError(
                    f"{exc.diag.message_primary}. Run this command with --admin-url naming a superuser or a role "
                    "with CREATEROLE that owns (or may grant on) the product's tables."
                ) from None
            except psycopg.Error as exc:  # nothing was changed: the transaction rolled back
                raise CommandError(
                    f"PostgreSQL refused: {exc.diag.message_primary or exc}. Nothing was changed."
                ) from None
        for what in refused:
            self.stderr.write(self.style.WARNING(f"Could not {what}."))
        connections[using].close()
        host = params.get("host") or ""
        port = f":{params['port']}" if params.get("port") else ""
        url = f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{quote(str(host), safe='')}{port}/"
        url += quote(database, safe="")
        self.stdout.write(f"Role {role!r} can log in and read {', '.join(tables)}; nothing else.")
        self.stdout.write("Set this in the environment of the web processes and restart them:")
        self.stdout.write(f"SCHEMAADMIN_EXPLAIN_DATABASE_URL={url}")
