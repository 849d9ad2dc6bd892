"""Migration operations of our own."""

from __future__ import annotations

from typing import Any

from pgvector.django import VectorExtension

__all__ = ["AdministeredVectorExtension"]


class AdministeredVectorExtension(VectorExtension):
    """Create the vector extension if it is missing; on reverse, drop it only if the migrating role created it.

    The application connects as a role without SUPERUSER, and pgvector is not a trusted extension: an administrator
    installs it (the embedded server's bootstrap, docker/initdb.sh, a managed service's console). Migrating to zero
    must not try to drop what the administrator installed, which would fail with "must be owner of extension".
    """

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        from schemaadmin.pg.server import extension_created_by_current_user

        if extension_created_by_current_user(self.name, using=schema_editor.connection.alias):
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"Creates extension {self.name} (dropped on reverse only if this role created it)"
