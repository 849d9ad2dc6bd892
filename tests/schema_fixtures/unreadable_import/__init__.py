"""The fixture app's migrations and a fourth whose file does not import (tests point MIGRATION_MODULES here)."""
