"""Whether query statistics can be read, and when not, which of the causes it is and exactly what to run."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.stats import EXTENSION, StatementsState, statements_state

__all__ = ["Availability", "availability", "availability_of"]


@dataclass(frozen=True, slots=True)
class Availability:
    state: str  # "ok", "not_on_server", "not_installed", "not_preloaded", "neither", "unreadable", "unreachable"
    reason: str | None  # one sentence, None when ok
    statements: tuple[str, ...] = ()  # what to run, in order
    restart: bool = False  # the server must restart between the statements and the result
    partial_texts: bool = False  # readable, but other roles' statements are hidden (statements: the GRANT)

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _preload_statement(current: str) -> str:
    names = [name.strip() for name in current.split(",") if name.strip()]
    wanted = ", ".join([*names, EXTENSION])
    return ddl.script(table_ddl.alter_system("shared_preload_libraries", wanted))


CREATE = ddl.script(table_ddl.create_extension(EXTENSION))
# Why CREATE EXTENSION needs a superuser (on a managed service, its administrator role) and not the app's owner role.
UNTRUSTED = "pg_stat_statements is not a trusted extension: a role without SUPERUSER may not create it"
RESTART = (
    "then restart PostgreSQL (shared_preload_libraries is read only at start; on a managed service set it in the "
    "parameter group and reboot)"
)


def availability_of(alias: str, state: StatementsState) -> Availability:
    """Turn what the server said into a verdict: which cause, in a sentence, with the statements that fix it."""
    where = f"database {alias!r}"
    if state.installed and state.preloaded:
        if state.read_error:
            return Availability(
                "unreadable",
                f"pg_stat_statements is created in {where} and preloaded, but reading it failed: {state.read_error}",
                (ddl.script(table_ddl.update_extension(EXTENSION)),),
            )
        if not state.reads_all:  # other roles' rows have no queryid: snapshots cannot count them at all
            grant = ddl.script(table_ddl.grant_role("pg_read_all_stats", state.role or "the application role"))
            return Availability("ok", None, (grant,), partial_texts=True)
        return Availability("ok", None)
    if not state.available:
        return Availability(
            "not_on_server",
            f"The server behind {where} does not have the pg_stat_statements extension: install PostgreSQL's "
            "contrib modules on it (Debian: postgresql-contrib), run the first statement below as a superuser, "
            f"{RESTART}, then run the second in the database, as a superuser too ({UNTRUSTED}).",
            (_preload_statement(state.preload_setting), CREATE),
            restart=True,
        )
    if state.installed:
        return Availability(
            "not_preloaded",
            f"pg_stat_statements is installed in {where} but not in shared_preload_libraries, so it records nothing "
            f"and its view cannot be read: run the statement below as a superuser, {RESTART}.",
            (_preload_statement(state.preload_setting),),
            restart=True,
        )
    if state.preloaded:
        return Availability(
            "not_installed",
            f"pg_stat_statements is preloaded but not installed in {where}: run the statement below in it as a "
            f"superuser ({UNTRUSTED}; no restart needed).",
            (CREATE,),
        )
    return Availability(
        "neither",
        f"pg_stat_statements is neither in shared_preload_libraries nor installed in {where}: run the first "
        f"statement as a superuser, {RESTART}, then run the second in the database, as a superuser too ({UNTRUSTED}).",
        (_preload_statement(state.preload_setting), CREATE),
        restart=True,
    )


def availability(*, using: str = "default") -> Availability:
    """Return whether pg_stat_statements can be read on the alias's server, and if not, why and what to run."""
    try:
        state = statements_state(using=using)
    except DatabaseError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Availability("unreachable", f"Cannot read database {using!r}: {reason}")
    return availability_of(using, state)
