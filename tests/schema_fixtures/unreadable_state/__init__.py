"""The fixture app's migrations and a fourth that alters a model no migration creates, as a migration missing its
dependency on another app's does (tests point MIGRATION_MODULES here)."""
