"""Server-level facts: version, database name and size, extensions."""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_one, fetch_row

__all__ = ["ExtensionState", "ServerInfo", "extension_created_by_current_user", "extension_state", "server_info"]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    version_num: int
    version: str
    database: str
    database_bytes: int
    in_recovery: bool

    @property
    def major_version(self) -> int:
        return self.version_num // 10000


@dataclass(frozen=True, slots=True)
class ExtensionState:
    name: str
    installed_version: str | None
    available_versions: tuple[str, ...]

    @property
    def installed(self) -> bool:
        return self.installed_version is not None

    @property
    def available(self) -> bool:
        return bool(self.available_versions)


def server_info(*, using: str = "default") -> ServerInfo:
    """Return the server version, the current database's name and size, and whether it is a replica."""
    info = fetch_row(
        ServerInfo,
        """
        SELECT current_setting('server_version_num')::int AS version_num,
               current_setting('server_version') AS version,
               current_database() AS database,
               pg_database_size(current_database()) AS database_bytes,
               pg_is_in_recovery() AS in_recovery
        """,
        using=using,
    )
    assert info is not None
    return info


def extension_state(name: str, *, using: str = "default") -> ExtensionState:
    """Return whether an extension is installed in this database and which versions the server offers."""
    state = fetch_row(
        ExtensionState,
        """
        SELECT wanted.name AS name,
               e.extversion AS installed_version,
               ARRAY(
                   SELECT av.version
                   FROM pg_available_extension_versions AS av
                   WHERE av.name = wanted.name
                   ORDER BY av.version
               ) AS available_versions
        FROM (SELECT %(name)s::text AS name) AS wanted
        LEFT JOIN pg_extension AS e ON e.extname = wanted.name
        """,
        {"name": name},
        using=using,
    )
    assert state is not None
    return state


def extension_created_by_current_user(name: str, *, using: str = "default") -> bool:
    """Return whether the extension is installed in this database and owned by the connection's role."""
    row = fetch_one(
        """
        SELECT pg_get_userbyid(e.extowner) = current_user AS owned
        FROM pg_extension AS e
        WHERE e.extname = %s
        """,
        [name],
        using=using,
    )
    return bool(row and row[0])
