"""Findings that grow with time: bloat, sequences and IDs running out, autovacuum off, slots holding WAL back,
extensions left behind by a package upgrade."""

from __future__ import annotations

from collections.abc import Iterator

from schemaadmin.pg import ddl, table_ddl
from schemaadmin.pg.identifiers import literal, quote_identifier
from schemaadmin.pg.sequences import SequenceUsage
from schemaadmin.services.index_health.findings import (
    Finding,
    Severity,
    database_finding,
    finding,
    size_text,
    table_finding,
)
from schemaadmin.services.index_health.snapshot import Snapshot
from schemaadmin.services.index_health.thresholds import Thresholds

__all__ = ["maintenance_findings"]

# Transaction and multixact IDs are compared modulo 2^32: past 2^31 an old ID would read as one from the future,
# so PostgreSQL refuses new IDs some millions before that.
WRAPAROUND_LIMIT = 2**31


def table_bloat(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for table in snapshot.tables:
        bloat = snapshot.table_bloat.get(table.qualified_name)
        if (
            bloat is None
            or bloat.wasted_bytes < thresholds.table_bloat_min_bytes
            or bloat.wasted_ratio < thresholds.table_bloat_min_ratio
        ):
            continue
        how = (
            "measured with pgstattuple_approx()"
            if bloat.exact
            else "estimated from statistics: pgstattuple is not installed or not usable"
        )
        message = (
            f"{table.qualified_name} takes {size_text(bloat.real_bytes)} on disk but its rows would fit in "
            f"about {size_text(bloat.expected_bytes)}: {bloat.wasted_ratio:.0%} is empty or dead space "
            f"({how}). VACUUM makes it reusable but does not give it back."
        )
        fix_sql = (
            "-- Rewrites the table; VACUUM FULL blocks reads and writes until it ends (pg_repack does not)\n"
            + ddl.script(table_ddl.vacuum(table.schema, table.name, full=True, analyze=True))
        )
        yield table_finding("table_bloat", snapshot.database, table, message, fix_sql)


def sequence_near_max(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for sequence in snapshot.sequences:
        share = sequence.used_share
        if share is None or share < thresholds.sequence_near_max_share or sequence.cycles:
            continue
        yield finding(
            "sequence_near_max",
            database=snapshot.database,
            schema=sequence.schema,
            table=sequence.owned_table or "",
            sequence=sequence.name,
            message=(
                f"{sequence.qualified_name} is at {sequence.last_value:,}, {share:.1%} of the way to "
                f"{sequence.limit:,}, the most {_limited_by(sequence)} can hold: once there, every insert that needs "
                "a new value fails."
            ),
            fix_sql="\n".join(_sequence_fixes(sequence)),
        )


def _limited_by(sequence: SequenceUsage) -> str:
    """Return what sets the sequence's limit, in words."""
    if sequence.column_limits:
        return f"its column {sequence.owned_table}.{sequence.owned_column} ({sequence.column_type})"
    if sequence.limit != sequence.type_bound:
        return f"its {'MAXVALUE' if sequence.increment > 0 else 'MINVALUE'}"
    return f"its type ({sequence.data_type})"


def _sequence_fixes(sequence: SequenceUsage) -> list[str]:
    """Return the statements that give the sequence room.

    A MAXVALUE (MINVALUE) below its type's bound and its column's is lifted alone: no table is rewritten for it.
    A column's bound (smallint, integer) needs the column bigint, and the foreign keys' columns that hold its values,
    then a serial's sequence; a sequence's own type needs it bigint."""
    if not sequence.column_limits and sequence.limit != sequence.type_bound:
        bound = "MAXVALUE" if sequence.increment > 0 else "MINVALUE"
        return [
            f"-- Its {bound} is {sequence.limit:,}, below what its type holds: if nothing relies on it\n"
            + ddl.script(table_ddl.alter_sequence(sequence.schema, sequence.name, no_bound=bound))
        ]
    fixes = []
    if sequence.column_limits and sequence.owned_table and sequence.owned_column:
        # A serial's integer sequence made bigint alone still feeds an integer column: the insert past 2^31 fails.
        fixes.append(
            "-- Rewrites the table under an ACCESS EXCLUSIVE lock"
            + (" (an identity column's sequence follows its type)" if sequence.identity else "")
            + "\n"
            + ddl.script(
                table_ddl.alter_column_type(sequence.schema, sequence.owned_table, sequence.owned_column, "bigint")
            )
        )
        for schema, table, column, _ in sequence.referencing:
            fixes.append(
                f"-- A foreign key's column: its values are {sequence.owned_column}'s\n"
                + ddl.script(table_ddl.alter_column_type(schema, table, column, "bigint"))
            )
    if sequence.data_type != "bigint" and not (sequence.identity and sequence.column_limits):
        fixes.append(ddl.script(table_ddl.alter_sequence(sequence.schema, sequence.name, as_bigint=True)))
    if not fixes:
        fixes.append(
            f"-- A bigint sequence this far along: check its increment ({sequence.increment}) and who calls it\n"
            f"SELECT * FROM pg_sequences WHERE schemaname = {literal(sequence.schema)} "
            f"AND sequencename = {literal(sequence.name)};"
        )
    return fixes


# How many unreadable sequences the finding names (all are counted).
UNREADABLE_NAMED = 10


def sequences_unreadable(snapshot: Snapshot) -> Iterator[Finding]:
    """One finding for the sequences this role may not read: how near their limit they are is unknown."""
    hidden = [sequence for sequence in snapshot.sequences if not sequence.readable]
    if not hidden:
        return
    reader = hidden[0].reader
    names = ", ".join(sequence.qualified_name for sequence in hidden[:UNREADABLE_NAMED])
    more = f" and {len(hidden) - UNREADABLE_NAMED:,} more" if len(hidden) > UNREADABLE_NAMED else ""
    schemas = sorted({sequence.schema for sequence in hidden})
    grants = "\n".join(ddl.script(table_ddl.grant_select_on_sequences(schema, reader)) for schema in schemas)
    yield database_finding(
        "sequences_unreadable",
        snapshot.database,
        "sequences",
        (
            f"{len(hidden):,} sequence{'s' if len(hidden) != 1 else ''} cannot be read by role {reader} "
            f"({names}{more}): "
            "PostgreSQL shows a sequence's last value only to a role with SELECT or USAGE on it, so whether they "
            "are near their limit (sequence_near_max) is not checked."
        ),
        "-- As their owner (or a superuser); SELECT lets the role read a sequence, not advance it\n" + grants,
    )


def _age_problem(
    xid_age: int, multixact_age: int, snapshot: Snapshot, thresholds: Thresholds
) -> tuple[str, Severity] | None:
    """Return what is wrong with these ages and how badly, or None when autovacuum is keeping up."""
    statistics = snapshot.statistics
    critical_at = thresholds.xid_age_critical_share * WRAPAROUND_LIMIT
    parts, severity = [], Severity.WARNING
    for what, age, setting, freeze_max in (
        ("transaction ID", xid_age, "autovacuum_freeze_max_age", statistics.freeze_max_age),
        ("multixact ID", multixact_age, "autovacuum_multixact_freeze_max_age", statistics.multixact_freeze_max_age),
    ):
        if age < thresholds.xid_age_warning_factor * freeze_max:
            continue
        parts.append(
            f"its oldest {what} is {age:,} old, past {setting} ({freeze_max:,}) and {age / WRAPAROUND_LIMIT:.1%} "
            "of the way to the limit at which PostgreSQL stops accepting writes"
        )
        if age >= critical_at:
            severity = Severity.CRITICAL
    return ("; ".join(parts), severity) if parts else None


def xid_wraparound(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for table in snapshot.tables:
        problem = _age_problem(table.xid_age, table.multixact_age, snapshot, thresholds)
        if problem is None:
            continue
        why, severity = problem
        where = " (in its TOAST table)" if table.xid_age_in_toast else ""
        message = (
            f"{table.qualified_name}{where}: {why}. Autovacuum's forced freeze is overdue: look for a long "
            "transaction, an abandoned replication slot or prepared transaction holding it back."
        )
        fix_sql = ddl.script(table_ddl.vacuum(table.schema, table.name, freeze=True, verbose=True))
        yield table_finding("xid_wraparound", snapshot.database, table, message, fix_sql, severity)
    for database in snapshot.databases:
        problem = _age_problem(database.xid_age, database.multixact_age, snapshot, thresholds)
        if problem is None:
            continue
        why, severity = problem
        if database.allows_connections:
            fix = f"-- Connected to {quote_identifier(database.name)}, as its owner or a superuser:\n" + ddl.script(
                table_ddl.vacuum(freeze=True)
            )
        else:
            fix = (
                f"-- {database.name} accepts no connections; autovacuum freezes it itself unless something holds "
                "the oldest transaction back:\nSELECT pid, backend_xmin, state, query_start FROM pg_stat_activity "
                "WHERE backend_xmin IS NOT NULL ORDER BY age(backend_xmin) DESC;"
            )
        message = f"Database {database.name}: {why}. Wraparound protection stops the whole server, not one database."
        yield database_finding("xid_wraparound", snapshot.database, f"database {database.name}", message, fix, severity)


def autovacuum_disabled(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    statistics = snapshot.statistics
    if not statistics.autovacuum_on or not statistics.track_counts:
        setting = "autovacuum" if not statistics.autovacuum_on else "track_counts"
        message = (
            f"The server runs with {setting} = off: autovacuum vacuums and analyzes no table (only the forced "
            "anti-wraparound vacuum still runs). Dead rows pile up, statistics go stale and plans drift."
        )
        fix = f"-- As a superuser:\nALTER SYSTEM SET {setting} = on;\nSELECT pg_reload_conf();"
        yield database_finding("autovacuum_disabled", snapshot.database, f"setting {setting}", message, fix)
    for table in snapshot.tables:
        parameters = [
            name
            for name, off in (
                ("autovacuum_enabled", table.autovacuum_off),
                ("toast.autovacuum_enabled", table.toast_autovacuum_off),
            )
            if off
        ]
        # Switched off on purpose (bulk loads, append-only tables) is silent until it costs something: dead rows
        # past the point at which autovacuum would have vacuumed the table.
        if not parameters or table.dead_tuples <= table.vacuum_threshold:
            continue
        what = "its TOAST table" if parameters == ["toast.autovacuum_enabled"] else table.qualified_name
        message = (
            f"Autovacuum is switched off for {what} ({' and '.join(f'{p} = off' for p in parameters)}) and it "
            f"has {table.dead_tuples:,} dead rows, past the {table.vacuum_threshold:,.0f} at which autovacuum "
            "would have vacuumed it: they pile up and statistics go stale; only the forced anti-wraparound vacuum "
            "still runs, and it cannot be cancelled."
        )
        fix = ddl.script(table_ddl.reset_table_parameters(table.schema, table.name, parameters))
        yield table_finding("autovacuum_disabled", snapshot.database, table, message, fix)


def inactive_replication_slot(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for slot in snapshot.replication_slots:
        if slot.active or slot.temporary or (slot.retained_bytes is None and slot.wal_status != "lost"):
            continue
        kind = (
            f"logical slot of database {slot.database} ({slot.plugin})" if slot.kind == "logical" else "physical slot"
        )
        if slot.wal_status == "lost":
            why = "its WAL is already gone (wal_status lost), so no consumer can resume from it"
            severity: Severity | None = Severity.CRITICAL
        else:
            retained = slot.retained_bytes or 0
            why = f"it holds {size_text(retained)} of WAL the server may not recycle"
            critical = retained >= thresholds.replication_slot_critical_bytes or slot.wal_status == "unreserved"
            severity = Severity.CRITICAL if critical else None
            if slot.safe_wal_bytes is not None:
                why += f"; max_slot_wal_keep_size invalidates it after {size_text(max(slot.safe_wal_bytes, 0))} more"
            else:
                why += " and the pile grows until the disk is full (max_slot_wal_keep_size is not set)"
            if slot.kind == "logical":
                why += "; it also keeps the catalog's dead rows from being vacuumed"
        message = f"Replication slot {slot.name}, a {kind}, has no consumer connected: {why}."
        fix = (
            "-- Once no replica or subscriber will come back for it:\n"
            f"SELECT pg_drop_replication_slot({literal(slot.name)});"
        )
        about = f"slot {slot.name}"
        yield database_finding("inactive_replication_slot", snapshot.database, about, message, fix, severity)


def extension_update_available(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    for extension in snapshot.extension_updates:
        message = (
            f"Extension {extension.name} is at version {extension.installed_version} in this database, while the "
            f"server's files are at {extension.default_version}: a package upgrade replaced its library and scripts, "
            "but this database keeps the old version's SQL objects (functions, operators, operator classes) until "
            f"the extension is updated (scripts {extension.path}). Read the release notes first: an update may ask "
            "for indexes to be rebuilt."
        )
        fix = "-- As the extension's owner or a superuser; it takes a lock on the objects it changes:\n" + ddl.script(
            table_ddl.update_extension(extension.name, to=extension.default_version)
        )
        about = f"extension {extension.name}"
        yield database_finding("extension_update_available", snapshot.database, about, message, fix)


def maintenance_findings(snapshot: Snapshot, thresholds: Thresholds) -> Iterator[Finding]:
    """Yield every bloat, sequence, wraparound, autovacuum, replication-slot and extension finding of the snapshot."""
    yield from table_bloat(snapshot, thresholds)
    yield from sequence_near_max(snapshot, thresholds)
    yield from sequences_unreadable(snapshot)
    yield from xid_wraparound(snapshot, thresholds)
    yield from autovacuum_disabled(snapshot, thresholds)
    yield from inactive_replication_slot(snapshot, thresholds)
    yield from extension_update_available(snapshot, thresholds)
