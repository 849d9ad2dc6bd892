"""The fixture app's own 0002_widget_name_index, unchanged."""

from importlib import import_module

Migration = import_module("tests.schema_fixtures.migrations.0002_widget_name_index").Migration
