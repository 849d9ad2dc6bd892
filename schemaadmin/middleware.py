"""Middleware of SchemaAdmin's web requests: a statement_timeout on their database connections."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from psycopg.errors import QueryCanceled

from schemaadmin.conf import app_settings
from schemaadmin.pg.sessions import set_statement_timeout

__all__ = ["StatementTimeoutMiddleware"]

# Set on the driver's connection: the statement_timeout (ms) its session has, so each is set once, not per request.
APPLIED = "_schemaadmin_statement_timeout_ms"
TIMEOUT_TEMPLATE = "schemaadmin/errors/query_timeout.html"


class _StatementTimeout:
    """An execute wrapper: before a connection's first query, give its session the web statement_timeout."""

    def __init__(self, milliseconds: int) -> None:
        self.milliseconds = milliseconds
        self.set_in_transaction: set[int] = set()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        wrapper = context["connection"]
        driver = wrapper.connection
        if getattr(driver, APPLIED, None) != self.milliseconds and id(driver) not in self.set_in_transaction:
            set_statement_timeout(self.milliseconds, using=wrapper.alias)
            if wrapper.get_autocommit():
                setattr(driver, APPLIED, self.milliseconds)  # committed at once: the session keeps it
            else:
                self.set_in_transaction.add(id(driver))  # a rollback would undo it: set it again next request
        return execute(sql, params, many, context)


class StatementTimeoutMiddleware:
    """Stop any query of a web request after WEB_STATEMENT_TIMEOUT_MS, and say so on a page instead of a 500.

    Only web requests pass here: the worker, migrations and management commands keep the server's setting.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = _StatementTimeout(int(app_settings()["WEB_STATEMENT_TIMEOUT_MS"]))
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(timeout))
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer a query the server cancelled (its statement_timeout, or a cancel) with a page saying so."""
        if not isinstance(exception, QueryCanceled) and not isinstance(exception.__cause__, QueryCanceled):
            return None
        seconds = app_settings()["WEB_STATEMENT_TIMEOUT_MS"] / 1000
        response = render(request, TIMEOUT_TEMPLATE, {"seconds": f"{seconds:g}"}, status=503)
        if getattr(request, "htmx", False):
            # The page's main content is replaced, whatever part of it the request meant to swap.
            response["HX-Retarget"] = "main"
            response["HX-Reswap"] = "outerHTML"
            response["HX-Reselect"] = "main"
        return response
