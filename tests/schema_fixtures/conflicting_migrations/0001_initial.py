"""The fixture app's own 0001_initial, unchanged."""

from importlib import import_module

Migration = import_module("tests.schema_fixtures.migrations.0001_initial").Migration
