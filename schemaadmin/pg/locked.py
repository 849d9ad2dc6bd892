"""Relations another session holds, or waits to take, ACCESS EXCLUSIVE: what the health reads measure around.

A migration's ALTER TABLE, TRUNCATE, VACUUM FULL, CLUSTER, REINDEX or a LOCK TABLE left open in a transaction holds
a table, its TOAST table or their indexes ACCESS EXCLUSIVE, and every other session that opens one of them waits
behind it: pg_relation_size(), pg_indexes_size(), pg_total_relation_size(), pg_get_indexdef() and pg_get_expr() of
its indexes, pgstattuple's functions (measured on PostgreSQL 18, 2026-12-05). So did every health page, until its
statement timeout, when an operator needs them most. The health reads leave out (or count from pg_class) what these
locks touch: a lock held, or one asked for and queued (it makes later requests queue behind it). A lock taken
between that read and the function's call is still waited for: the web's lock_timeout (WEB_LOCK_TIMEOUT_MS) ends
that wait with a page saying a table is locked.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemaadmin.pg.connection import fetch_rows
from schemaadmin.pg.names import db_table_parts

__all__ = [
    "LOCKED_CTE",
    "LOCKED_OIDS",
    "SEQUENCES_LOCKED",
    "LockedGroup",
    "LockedRelation",
    "group_locked",
    "locked_relations",
    "partitions_below_sql",
    "table_locked_expression",
    "table_locked_sql",
]

_OTHER_SESSIONS_HERE = """
      l.locktype = 'relation'
      AND l.pid IS DISTINCT FROM pg_backend_pid()
      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())"""
_LOCKS_WHERE = f"{_OTHER_SESSIONS_HERE}\n      AND l.mode = 'AccessExclusiveLock'"

# The sequences a read of their last value (pg_sequence_last_value(), pg_sequences.last_value) would wait for: it
# opens a sequence ROW EXCLUSIVE, as nextval() does, which SHARE and stronger modes block (ALTER SEQUENCE holds SHARE
# ROW EXCLUSIVE; TRUNCATE … RESTART IDENTITY, DROP and an identity column's ALTER TYPE, ACCESS EXCLUSIVE).
SEQUENCES_LOCKED = (
    "SELECT l.relation FROM pg_catalog.pg_locks AS l WHERE"  # noqa: S608 -- constants, no input
    f"{_OTHER_SESSIONS_HERE}\n      AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', "
    "'AccessExclusiveLock')"
)

# The oids of the relations locked so in this database, read once per statement however often it names them:
# LOCKED_CTE in its WITH, LOCKED_OIDS where the oids are wanted. pg_locks copies every lock of every session, tens
# of thousands while another session measures every relation.
_LOCKED_RELATIONS = f"SELECT l.relation FROM pg_catalog.pg_locks AS l WHERE {_LOCKS_WHERE}"  # noqa: S608
LOCKED_CTE = f"locked AS MATERIALIZED (SELECT ARRAY({_LOCKED_RELATIONS}) AS oids)"
LOCKED_OIDS = "(SELECT locked.oids FROM locked)::oid[]"  # an array expression: ANY () of it compares its elements


def partitions_below_sql(root: str) -> str:
    """Return SQL of a subquery of the relations below root (an oid expression: a partitioned table or index), every
    level, with relid, level (1 for root's own partitions) and is_leaf, read from pg_inherits. pg_partition_tree()
    gives the same, but locks each of them ACCESS SHARE on the way, so it waits behind a partition another session
    holds ACCESS EXCLUSIVE."""
    return (
        "(WITH RECURSIVE below (relid, level) AS ("  # noqa: S608 -- an oid expression of the caller's SQL, no input
        f"SELECT i.inhrelid, 1 FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = {root} "
        "UNION ALL SELECT i.inhrelid, below.level + 1 "
        "FROM below JOIN pg_catalog.pg_inherits AS i ON i.inhparent = below.relid) "
        "SELECT below.relid, below.level, r.relkind NOT IN ('p', 'I') AS is_leaf "
        "FROM below JOIN pg_catalog.pg_class AS r ON r.oid = below.relid)"
    )


def table_locked_sql(table: str, locked: str) -> str:
    """Return the SQL condition: a lock in locked (an oid[] expression) touches the pg_class row aliased table (a
    table, its TOAST table, or an index of either). The lookup of its indexes runs only when something is locked."""
    return (
        f"CASE WHEN cardinality({locked}) = 0 THEN false "  # noqa: S608 -- aliases and constants, no input
        f"ELSE ARRAY[{table}.oid, {table}.reltoastrelid] && {locked} OR EXISTS ("
        f"SELECT 1 FROM pg_catalog.pg_index AS locked_index "
        f"WHERE locked_index.indrelid IN ({table}.oid, {table}.reltoastrelid) "
        f"AND locked_index.indexrelid = ANY ({locked})) END"
    )


def table_locked_expression(db_table: str) -> tuple[str, tuple[str | None, str]]:
    """Return SQL of a boolean, and its parameters: another session holds or waits for ACCESS EXCLUSIVE on the
    model's table (db_table, pg.names.db_table_parts), its TOAST table or an index of theirs. It reads the
    catalog and pg_locks only, so a query may carry it without opening (and waiting for) that table."""
    schema, table = db_table_parts(db_table)
    sql = (
        f"EXISTS (WITH {LOCKED_CTE} SELECT 1 FROM pg_catalog.pg_class AS locked_table "  # noqa: S608 -- constants
        "WHERE locked_table.oid = to_regclass(concat_ws('.', quote_ident(%s), quote_ident(%s))) "
        f"AND {table_locked_sql('locked_table', LOCKED_OIDS)})"
    )
    return sql, (schema, table)


@dataclass(frozen=True, slots=True)
class LockedRelation:
    schema: str
    name: str
    kind: str  # pg_class.relkind of what is locked: r, p, m a table; i, I an index; t a TOAST table
    table_schema: str  # the table it is or belongs to (an index's, a TOAST table's owner)
    table_name: str
    ancestors: tuple[tuple[str, str], ...]  # the partitioned tables above that table, nearest first
    holders: tuple[int, ...]  # the pids holding it ACCESS EXCLUSIVE
    prepared: bool  # a prepared transaction holds it (no pid)
    waiters: tuple[int, ...]  # the pids queued to take it ACCESS EXCLUSIVE
    blockers: tuple[int, ...]  # the pids those waiters wait for (pg_blocking_pids)

    @property
    def is_index(self) -> bool:
        return self.kind in ("i", "I")

    @property
    def part(self) -> str:
        """Return which part of its table is locked, in words: "" for the table itself."""
        if self.is_index:
            return f"its index {self.name}"
        return "its TOAST table" if self.kind == "t" else ""

    @property
    def who(self) -> str:
        """Return who holds it and who waits, in words: "held by pid 12; pid 34 waiting to lock it, behind pid 56"."""
        held = (
            f"held by pid {', '.join(map(str, self.holders))}"
            if self.holders
            else "held by a prepared transaction"
            if self.prepared
            else ""
        )
        waiting = ""
        if self.waiters:
            waiting = f"pid {', '.join(map(str, self.waiters))} waiting to lock it"
            if self.blockers:
                waiting += f", behind pid {', '.join(map(str, self.blockers))}"
        return "; ".join(part for part in (held, waiting) if part)

    @property
    def tables(self) -> list[tuple[str, str]]:
        """Return the (schema, name) of every table whose health reads it touches: its own and those above it."""
        return [(self.table_schema, self.table_name), *self.ancestors]


@dataclass(frozen=True, slots=True)
class LockedGroup:
    """The locked relations of one table tree: a table, or the partitioned table at the top of its partitions."""

    schema: str
    name: str
    relations: tuple[LockedRelation, ...]

    @property
    def what(self) -> str:
        """Return what of the table is locked, in words: "" for the table alone, "its index i", "its partition p",
        or, of several, "the table, 200 partitions, 400 indexes and 200 TOAST tables"."""
        if len(self.relations) == 1:
            relation = self.relations[0]
            if (relation.table_schema, relation.table_name) == (self.schema, self.name):
                return relation.part
            partition = f"its partition {relation.table_schema}.{relation.table_name}"
            if relation.is_index:
                return f"index {relation.name} of {partition}"
            return f"the TOAST table of {partition}" if relation.kind == "t" else partition
        counts = {"the table": 0, "partition": 0, "index": 0, "TOAST table": 0}
        for relation in self.relations:
            if relation.is_index and relation.schema == "pg_toast":
                continue  # a TOAST table's own index: counted with its TOAST table
            if relation.is_index:
                counts["index"] += 1
            elif relation.kind == "t":
                counts["TOAST table"] += 1
            elif (relation.table_schema, relation.table_name) == (self.schema, self.name):
                counts["the table"] += 1
            else:
                counts["partition"] += 1
        parts = ["the table"] if counts.pop("the table") else []
        plurals = {"partition": "partitions", "index": "indexes", "TOAST table": "TOAST tables"}
        parts += [f"{n} {noun if n == 1 else plurals[noun]}" for noun, n in counts.items() if n]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    @property
    def who(self) -> str:
        """Return who holds and who waits, in words, each distinct account once."""
        return "; ".join(dict.fromkeys(relation.who for relation in self.relations))


def group_locked(relations: list[LockedRelation]) -> list[LockedGroup]:
    """Return relations grouped by table tree (a partitioned table's partitions, their indexes and TOAST tables under
    it), in the order first met: an ALTER of a partitioned table locks every relation below it, hundreds at once."""
    trees: dict[tuple[str, str], list[LockedRelation]] = {}
    for relation in relations:
        root = relation.ancestors[-1] if relation.ancestors else (relation.table_schema, relation.table_name)
        trees.setdefault(root, []).append(relation)
    return [LockedGroup(schema, name, tuple(members)) for (schema, name), members in trees.items()]


def locked_relations(*, using: str = "default") -> list[LockedRelation]:
    """Return the relations of user tables that another session holds or waits to take ACCESS EXCLUSIVE, each with
    the table it belongs to (a TOAST table's owner is named in its name, pg_toast_<oid>, which PostgreSQL keeps
    through rewrites) and the partitioned tables above that one."""
    return fetch_rows(
        LockedRelation,
        f"""
        WITH locks AS (
            SELECT l.relation, l.pid, l.granted
            FROM pg_catalog.pg_locks AS l
            WHERE {_LOCKS_WHERE}
        ),
        locked AS (
            SELECT k.relation, c.relname, c.relkind, n.nspname,
                   COALESCE(x.indrelid, k.relation) AS parent
            FROM locks AS k
            JOIN pg_catalog.pg_class AS c ON c.oid = k.relation
            JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
            LEFT JOIN pg_catalog.pg_index AS x ON x.indexrelid = k.relation
            GROUP BY k.relation, c.relname, c.relkind, n.nspname, x.indrelid
        ),
        owned AS (
            SELECT locked.*,
                   CASE WHEN parent_class.relkind = 't' AND parent_class.relname ~ '^pg_toast_[0-9]+$'
                        THEN substr(parent_class.relname, 10)::oid ELSE locked.parent END AS owner
            FROM locked
            JOIN pg_catalog.pg_class AS parent_class ON parent_class.oid = locked.parent
        )
        SELECT o.nspname AS schema,
               o.relname AS name,
               o.relkind::text AS kind,
               tn.nspname AS table_schema,
               t.relname AS table_name,
               ARRAY(
                   SELECT ARRAY[an.nspname, ac.relname]::text[]
                   FROM pg_partition_ancestors(t.oid) WITH ORDINALITY AS a(relid, place)
                   JOIN pg_catalog.pg_class AS ac ON ac.oid = a.relid
                   JOIN pg_catalog.pg_namespace AS an ON an.oid = ac.relnamespace
                   WHERE a.relid <> t.oid
                   ORDER BY a.place
               ) AS ancestors,
               ARRAY(SELECT DISTINCT k.pid FROM locks AS k WHERE k.relation = o.relation AND k.granted
                     AND k.pid IS NOT NULL ORDER BY 1) AS holders,
               EXISTS (SELECT 1 FROM locks AS k WHERE k.relation = o.relation AND k.granted AND k.pid IS NULL)
                   AS prepared,
               ARRAY(SELECT DISTINCT k.pid FROM locks AS k WHERE k.relation = o.relation AND NOT k.granted
                     ORDER BY 1) AS waiters,
               ARRAY(SELECT DISTINCT b.pid FROM locks AS k CROSS JOIN unnest(pg_blocking_pids(k.pid)) AS b(pid)
                     WHERE k.relation = o.relation AND NOT k.granted ORDER BY 1) AS blockers
        FROM owned AS o
        JOIN pg_catalog.pg_class AS t ON t.oid = o.owner
        JOIN pg_catalog.pg_namespace AS tn ON tn.oid = t.relnamespace
        WHERE tn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND NOT starts_with(tn.nspname, 'pg_temp_')
          AND NOT starts_with(tn.nspname, 'pg_toast_temp_')
        ORDER BY tn.nspname, t.relname, o.nspname, o.relname
        """,  # noqa: S608 -- constants, no input
        using=using,
        convert={"ancestors": lambda pairs: tuple(tuple(pair) for pair in pairs)},
    )
