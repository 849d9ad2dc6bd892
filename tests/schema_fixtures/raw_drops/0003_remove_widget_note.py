import importlib

Migration = importlib.import_module("tests.schema_fixtures.migrations.0003_remove_widget_note").Migration
