"""What to do instead, for each of our lint rules: the text shown under a finding (help)."""

from __future__ import annotations

INDEX_HELP = (
    "Build it without blocking writes: AddIndexConcurrently (django.contrib.postgres.operations) in a migration "
    "of its own with atomic = False. For a unique field or constraint, build the unique index concurrently, then "
    "attach it with ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX inside SeparateDatabaseAndState."
)
OPAQUE_HELP = (
    "Where the operation only runs SQL it could name, give it database_forwards that goes through the schema "
    "editor's execute() and reduces_to_sql = True, or write the SQL as a RunSQL: then the SQL shows here and is "
    "linted. Otherwise try it on a copy of the database of the same size first."
)
PARTITIONED_CONCURRENT_HELP = (
    "Build it partition by partition: CREATE INDEX … ON ONLY the partitioned table (invalid, and quick), then for "
    "each partition CREATE INDEX CONCURRENTLY and ALTER INDEX <parent index> ATTACH PARTITION <its index>; the "
    "parent index turns valid when the last one is attached. In a migration: RunSQL with atomic = False, and "
    "SeparateDatabaseAndState to tell Django's state about the index. To drop one: DROP INDEX without "
    "CONCURRENTLY, which locks the table and each partition only for the drop itself."
)
NOT_NULL_HELP = (
    "Add the column nullable (null=True), backfill it in batches (a RunPython or a worker job), then make it "
    "NOT NULL; or give it a default (default= or db_default=), which PostgreSQL 11+ adds without a rewrite."
)
SET_NOT_NULL_HELP = (
    "Avoid the scan under an ACCESS EXCLUSIVE lock: add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT "
    "in a later migration (no write lock), then SET NOT NULL (PostgreSQL 12+ trusts the valid check and skips the "
    "scan) and drop the check. Backfill NULLs before validating."
)
ANN_HELP = (
    "Index a halfvec cast instead (up to 4,000 dimensions): HnswIndex(OpClass(Cast('embedding', "
    "HalfVectorField(dimensions=N)), name='halfvec_cosine_ops'), ...), and order queries by the same cast so the "
    "planner uses it; or reduce the embedding's dimensions."
)
DIMENSIONS_HELP = (
    "Plan the rebuild instead of altering in place: add a new nullable column with the new dimensions, re-embed "
    "into it in batches in the worker, build its ANN index with AddIndexConcurrently (atomic = False), switch "
    "reads to it, then remove the old column. If the column is known to be empty, record that with "
    "lint_exemptions = {'vector_dimensions_changed': 'why'} on the migration."
)
DROP_HELP = (
    "Deploy code that no longer reads it first (remove it from the model state only, with "
    "SeparateDatabaseAndState), keep a backup of the data, and drop it in a later release. The backward "
    "migration recreates the structure, not the data."
)
PYTHON_DEFAULT_HELP = (
    "Give the field db_default= instead of (or besides) default=: the default then stays in the database, so "
    "inserts from processes still running the old model get it too. Or add the column null=True first and make "
    "it NOT NULL in a later release, once no old code is running."
)
UNIQUE_DEFAULT_HELP = (
    'Django\'s way ("Migrations that add unique fields"): add the field null=True without unique, fill each row '
    "with its own value (a RunPython, or db_default=RandomUUID() for a UUID), then make it unique in a later "
    "migration. A default computed in the database per row (db_default) also gives each row its own value."
)
JSON_HELP = (
    "Use jsonb (Django's JSONField is jsonb): json has no equality operator, so SELECT DISTINCT, UNION and "
    "GROUP BY over rows with the column fail."
)
BACKFILL_HELP = (
    "Backfill outside the schema change's transaction and in batches: a migration of its own with atomic = False "
    "whose RunPython updates a few thousand rows per transaction (keyset by primary key), or a worker job. Keep "
    "the schema change in its own small atomic migration."
)
REWRITE_HELP = (
    "Rebuild the table online instead: pg_repack or pg_squeeze rewrite it with only brief locks. Plain VACUUM "
    "(no FULL) makes dead space reusable without a write lock; for CLUSTER's ordering, an index usually serves "
    "the queries. VACUUM cannot run inside a transaction: such a migration needs atomic = False."
)
TYPE_CHANGE_HELP = (
    "Change it in steps instead (expand and contract): add a column of the new type, fill it in batches (a trigger "
    "keeps new writes in step), switch the code to it, then drop the old column. For a primary key, do the same "
    "for every foreign key that holds it. Widening a varchar, varchar to text and a larger numeric precision need "
    "no rewrite."
)
ADDED_COLUMN_REWRITE_HELP = (
    "Add the column without the default (or as a plain column instead of a stored generated one), then set the "
    "default for new rows with ALTER COLUMN … SET DEFAULT (no rewrite) and fill the existing rows in batches."
)
FOREIGN_KEY_HELP = (
    "Add the constraint NOT VALID (new and changed rows are checked from then on, old ones are not read), then "
    "VALIDATE CONSTRAINT in a later migration: it reads the rows under a SHARE UPDATE EXCLUSIVE lock, so writes go "
    "on. In Django: the field with db_constraint=False, then a RunSQL ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY "
    "(…) REFERENCES … NOT VALID (with SeparateDatabaseAndState if the state should say db_constraint=True), and "
    "RunSQL ALTER TABLE … VALIDATE CONSTRAINT … in the next migration."
)
VALIDATE_HELP = (
    "Validate in a migration of its own (atomic or not, after the one that added the constraint NOT VALID "
    "committed): alone, VALIDATE CONSTRAINT takes a SHARE UPDATE EXCLUSIVE lock and reads and writes go on."
)
CHECK_HELP = (
    "Add it NOT VALID, then validate it in a later migration: VALIDATE CONSTRAINT reads the rows under a SHARE "
    "UPDATE EXCLUSIVE lock, so reads and writes go on. In Django: SeparateDatabaseAndState whose "
    "state_operations hold the AddConstraint and whose database_operations are a RunSQL ALTER TABLE … ADD "
    "CONSTRAINT … CHECK (…) NOT VALID; then RunSQL ALTER TABLE … VALIDATE CONSTRAINT … in the next migration."
)
EXCLUSION_HELP = (
    "An exclusion constraint cannot be added NOT VALID, and cannot be attached from an index built "
    "CONCURRENTLY (USING INDEX takes unique indexes only): PostgreSQL builds its index and checks every row under "
    "an ACCESS EXCLUSIVE lock. Declare it when the table is created; on a big table, build a new table with the "
    "constraint, copy the rows over in batches and swap, or add it in a maintenance window."
)
GRANT_HELP = (
    "Add to the same migration a RunSQL that grants the console's role SELECT on the table when the role exists "
    "(a DO block as in schemaadmin migration 0007, with the REVOKE as reverse_sql), and add the model to "
    "PRODUCT_MODELS so manage.py create_explain_role grants it on new servers too."
)
TRUNCATE_HELP = (
    "TRUNCATE empties the table under an ACCESS EXCLUSIVE lock and cannot be undone by the backward migration. "
    "Keep a copy first, or delete in batches from a worker job."
)
WIDE_INDEX_HELP = (
    "A non-unique btree index rarely gains from more than three columns: start with the columns that narrow "
    "the rows most, and keep it to those."
)
TRIGGER_HELP = (
    "Keep the triggers on and do the work in batches instead; if a trigger must be skipped, disable that one "
    "trigger by name (never ALL or USER), in the same short transaction as the writes, and enable it again there."
)
CONCURRENT_ATOMIC_HELP = (
    "Set atomic = False on the migration's class (a migration of its own, holding only the concurrent statements): "
    "Django then runs each statement outside a transaction, which is what CONCURRENTLY needs."
)
RUN_PYTHON_HELP = (
    "RunPython(forwards, backwards, hints={'model_name': 'widget'}) names the model whose table it writes: the "
    "lint then sizes it and flags a backfill of a big table in one transaction. Accept it on a migration that "
    "writes a few rows with lint_exemptions = {'run_python_unread': 'why'}."
)
TIMEOUT_HELP = (
    "Leave lock_timeout and statement_timeout as the apply job sets them (a migration's own SET lasts for the rest "
    "of the run); a step that needs longer is a migration of its own, applied with a longer timeout on the form."
)
LOCK_HELP = (
    "Let each statement take the lock it needs, for as short as it needs it; a migration that must hold a table "
    "still keeps its transaction short: no backfill or slow DDL after the LOCK."
)
