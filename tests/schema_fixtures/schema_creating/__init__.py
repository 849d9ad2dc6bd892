"""The fixture app's migrations and a fourth that creates a schema with RunSQL (tests point MIGRATION_MODULES here)."""
