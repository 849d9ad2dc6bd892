"""The fixture app's own 0003_remove_widget_note, unchanged."""

from importlib import import_module

Migration = import_module("tests.schema_fixtures.migrations.0003_remove_widget_note").Migration
