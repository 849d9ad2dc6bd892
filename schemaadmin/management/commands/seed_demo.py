"""Load the deterministic demo data set: users, conversations, messages and an embedded knowledge base."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from schemaadmin.demo import DEFAULT_SIZES, DemoConflict, DemoSizes, load_demo
from schemaadmin.management.options import add_database_option
from schemaadmin.models import ChatUser
from schemaadmin.pg.bulk import has_rows
from schemaadmin.pg.connection import UnknownDatabase, validated_alias

SIZE_NAMES = tuple(field.name for field in fields(DemoSizes))


class Command(BaseCommand):
    help = (
        "Load a deterministic demo data set (users, conversations, messages, knowledge-base documents and "
        "embedded chunks) with COPY. The same --seed and sizes always give the same rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply every default size, e.g. --scale 50 for 10M messages (default 1).",
        )
        for name in SIZE_NAMES:
            parser.add_argument(
                f"--{name}",
                type=int,
                default=None,
                help=f"How many {name} (default {getattr(DEFAULT_SIZES, name):,} times --scale).",
            )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the users table already has rows.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show progress bars on stderr.")
        add_database_option(parser, help="Database alias to load into (default: default).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            using = validated_alias(options["database"])
            sizes = DemoSizes.from_options(scale=options["scale"], **{name: options[name] for name in SIZE_NAMES})
        except (UnknownDatabase, ValueError) as error:
            raise CommandError(str(error)) from error
        if options["if_empty"] and has_rows(ChatUser._meta.db_table, using=using):
            self.stdout.write("The users table already has rows, so no demo data was loaded (--if-empty).")
            return
        try:
            summary = load_demo(sizes, seed=options["seed"], using=using, progress=not options["no_progress"])
        except DemoConflict as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {sizes.describe()} (and {summary.preferences:,} users' preferences) "
                f"with seed {summary.seed} in {summary.seconds:.1f} s."
            )
        )
