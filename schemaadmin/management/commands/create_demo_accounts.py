"""Create one sign-in per role on the embedded demo database and print the login details."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

# username -> role group (None: superuser with every permission)
DEMO_ACCOUNTS: dict[str, str | None] = {
    "support": "support",
    "operator": "operator",
    "dba": "dba",
    "admin": None,
}


def _passwords_file() -> Path:
    # Beside the demo data: a new data directory gets new passwords.
    assert settings.EMBEDDED_PGDATA is not None
    return Path(settings.EMBEDDED_PGDATA) / "demo-accounts.json"


class Command(BaseCommand):
    help = "Create demo accounts (support, operator, dba, admin) on the embedded demo database only."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.EMBEDDED_PGDATA is None:
            raise CommandError(
                "Demo accounts are only made on the embedded demo database. With DATABASE_URL set, create real "
                "accounts with `manage.py createsuperuser` and add them to the support, operator or dba group."
            )
        passwords = self._passwords()
        with transaction.atomic():
            for username, role in DEMO_ACCOUNTS.items():
                user, created = User.objects.get_or_create(
                    username=username, defaults={"email": f"{username}@demo.invalid"}
                )
                if created or not user.check_password(passwords[username]):
                    user.set_password(passwords[username])
                user.is_staff = user.is_superuser = role is None
                user.save()
                if role is not None:
                    user.groups.set([Group.objects.get(name=role)])
        self.stdout.write(f"Demo accounts on database {connection.settings_dict['NAME']!r}:")
        for username, role in DEMO_ACCOUNTS.items():
            self.stdout.write(f"  {username:<9} password {passwords[username]:<24} ({role or 'superuser'})")

    def _passwords(self) -> dict[str, str]:
        """Return the demo passwords, made once per data directory and kept beside the data.

        A file edited by hand into something else (not JSON, not an object, a password that is not text) is said
        and mended before any account is touched: the accounts whose password it lost get new ones.
        """
        path = _passwords_file()
        try:
            loaded: Any = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError) as exc:
            self.stderr.write(f"{path} could not be read ({exc}): new passwords are made.")
            loaded = {}
        if not isinstance(loaded, dict):
            self.stderr.write(f"{path} is not a JSON object of passwords: new passwords are made.")
            loaded = {}
        stored = {name: value for name, value in loaded.items() if isinstance(value, str) and value}
        unusable = sorted(name for name in set(loaded) & set(DEMO_ACCOUNTS) if name not in stored)
        if unusable:
            self.stderr.write(f"{path} had no usable password for {', '.join(unusable)}: new ones are made.")
        if set(stored) != set(DEMO_ACCOUNTS):
            stored = {name: stored.get(name) or secrets.token_urlsafe(12) for name in DEMO_ACCOUNTS}
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(stored, indent=2))
            path.chmod(0o600)
        return stored
