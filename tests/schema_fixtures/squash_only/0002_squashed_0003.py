import importlib

Migration = importlib.import_module("tests.schema_fixtures.squashed_migrations.0002_squashed_0003").Migration
