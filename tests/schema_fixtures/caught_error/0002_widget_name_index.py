import importlib

Migration = importlib.import_module("tests.schema_fixtures.migrations.0002_widget_name_index").Migration
