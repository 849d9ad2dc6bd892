import importlib

Migration = importlib.import_module("tests.schema_fixtures.migrations.0001_initial").Migration
