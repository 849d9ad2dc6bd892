"""The fixture app's migrations with 0002 and 0003 squashed (tests point MIGRATION_MODULES here)."""
