import importlib

Migration = importlib.import_module("tests.schema_fixtures.squashed_migrations.0001_initial").Migration
