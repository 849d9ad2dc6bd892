"""Options the management commands share, spelled and explained once."""

from __future__ import annotations

from typing import Any

__all__ = ["add_database_option", "add_format_option", "add_report_options"]


def add_database_option(parser: Any, help: str = "Database alias to inspect (default: default).") -> None:
    """Add --database: the alias the command works on, `default` unless given."""
    parser.add_argument("--database", default="default", help=help)


def add_format_option(parser: Any) -> None:
    """Add --format: text for people, json for scripts."""
    parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format (default: text).")


def add_report_options(parser: Any) -> None:
    """Add what a command that reports on a database takes: --database and --format."""
    add_database_option(parser)
    add_format_option(parser)
