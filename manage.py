#!/usr/bin/env python
"""Django's command-line utility for SchemaAdmin."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # An unreachable database deserves a sentence, not a traceback through the driver.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"schemaadmin.E001: Cannot reach the database: {reason}\n"
            "Check DATABASE_URL (host, port, user, password, database name) and that the server is running.\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
