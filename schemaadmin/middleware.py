"""Middleware of SchemaAdmin's web requests: a statement_timeout and a lock_timeout on their database connections,
their parameters checked against Django's limits first, Vary: HX-Request on their responses, and the viewer's time
zone for what they type."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from psycopg.errors import LockNotAvailable, QueryCanceled

from schemaadmin.conf import app_settings
from schemaadmin.pg.sessions import set_session_timeouts
from schemaadmin.views.errors import bad_request

__all__ = [
    "RequestLimitsMiddleware",
    "SessionTimeoutsMiddleware",
    "VaryOnHtmxMiddleware",
    "ViewerTimeZoneMiddleware",
    "viewer_zone",
]

# Set on the driver's connection: the (statement_timeout, lock_timeout) in ms its session has, so each is set once,
# not per request.
APPLIED = "_schemaadmin_session_timeouts_ms"
TIMEOUT_TEMPLATE = "schemaadmin/errors/query_timeout.html"
LOCKED_TEMPLATE = "schemaadmin/errors/table_locked.html"


class _SessionTimeouts:
    """An execute wrapper: before a connection's first query, give its session the web's timeouts."""

    def __init__(self, statement_ms: int, lock_ms: int) -> None:
        self.timeouts = (statement_ms, lock_ms)
        self.set_in_transaction: set[int] = set()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        wrapper = context["connection"]
        driver = wrapper.connection
        if getattr(driver, APPLIED, None) != self.timeouts and id(driver) not in self.set_in_transaction:
            set_session_timeouts(*self.timeouts, using=wrapper.alias)
            if wrapper.get_autocommit():
                setattr(driver, APPLIED, self.timeouts)  # committed at once: the session keeps them
            else:
                self.set_in_transaction.add(id(driver))  # a rollback would undo them: set them again next request
        return execute(sql, params, many, context)


class SessionTimeoutsMiddleware:
    """Stop any query of a web request after WEB_STATEMENT_TIMEOUT_MS, or after waiting WEB_LOCK_TIMEOUT_MS for a
    lock, and say which on a page instead of a 500.

    Only web requests pass here: the worker, migrations and management commands keep the server's settings.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        settings = app_settings()
        timeouts = _SessionTimeouts(int(settings["WEB_STATEMENT_TIMEOUT_MS"]), int(settings["WEB_LOCK_TIMEOUT_MS"]))
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(timeouts))
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer a query the server stopped (its lock_timeout, its statement_timeout, or a cancel) with a page
        saying so."""
        if _caused_by(exception, LockNotAvailable):
            seconds = app_settings()["WEB_LOCK_TIMEOUT_MS"] / 1000
            response = render(request, LOCKED_TEMPLATE, {"seconds": f"{seconds:g}"}, status=503)
        elif _caused_by(exception, QueryCanceled):
            seconds = app_settings()["WEB_STATEMENT_TIMEOUT_MS"] / 1000
            searching = bool(request.GET.get("q", "").strip())
            response = render(
                request, TIMEOUT_TEMPLATE, {"seconds": f"{seconds:g}", "searching": searching}, status=503
            )
        else:
            return None
        if getattr(request, "htmx", False):
            # The page's main content is replaced, whatever part of it the request meant to swap.
            response["HX-Retarget"] = "main"
            response["HX-Reswap"] = "outerHTML"
            response["HX-Reselect"] = "main"
        return response


def _caused_by(exception: Exception, kind: type[Exception]) -> bool:
    """Return whether exception is kind, or Django's wrapper of one (its __cause__)."""
    return isinstance(exception, kind) or isinstance(exception.__cause__, kind)


class RequestLimitsMiddleware:
    """Read a request's parameters before anything else does, and answer one over Django's limits (too many fields,
    too large a form) with the 400 page that says so. Without DEBUG, Django's handler400 answers it the same; with
    DEBUG (make run), its debug page read the parameters again to show them, raised again, and the answer was a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.GET  # noqa: B018 -- parsed here, once: QueryDict is cached on the request
            if request.method == "POST":
                request.POST  # noqa: B018 -- as CsrfViewMiddleware would, a step later
        except (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig) as exc:
            return bad_request(request, exc)
        return self.get_response(request)


class VaryOnHtmxMiddleware:
    """Say that every response may depend on the HX-Request header: a list's URL answers htmx with its partial and
    a browser with the whole page. Without Vary the browser's cache kept one answer per URL, and Back after opening
    a result of a filtered list showed the bare partial, unstyled."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response


class SignInMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware (every page but those marked login_not_required asks to sign in), which
    answers an htmx request of a signed-out browser (a session expired, signed out in another tab) with HX-Redirect
    to the sign-in page, back to the page the request came from: the request followed the redirect, and the whole
    sign-in page was swapped into the list's results or a polled region."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        response = super().process_view(request, view_func, view_args, view_kwargs)
        if response is None or request.headers.get("HX-Request") != "true":
            return response
        try:
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
        except ValueError:  # a header no browser sends ("http://[::1/"): not this site's page
            page = None
        same_site = page is not None and page.netloc == request.get_host() and page.scheme == request.scheme
        back_to = (
            urlunsplit(("", "", page.path or "/", page.query, ""))
            if page is not None and same_site
            else request.get_full_path()
        )
        sign_in = redirect_to_login(back_to, resolve_url(self.get_login_url(view_func)))
        answer = HttpResponse("Sign in again.", status=401, content_type="text/plain; charset=utf-8")
        answer["HX-Redirect"] = sign_in["Location"]
        return answer


class PrivatePagesMiddleware:
    """Keep a signed-in person's pages out of every cache (Cache-Control: no-store, private): conversations, users,
    plans and sessions must not outlive the sign-out in the browser's cache or a proxy's, where Back or the next
    person at the screen would read them without asking the server, so without a permission check or an audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


TIME_ZONE_COOKIE = "schemaadmin_tz"  # set by theme.js: the browser's IANA zone


def viewer_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """Return the IANA zone the browser named, or None for a name that is none (any text may come in a cookie)."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class ViewerTimeZoneMiddleware:
    """Read the dates and times people type in their own zone, the one every page shows times in: a date filter's
    day starts at the viewer's midnight, a query window's 20:00 is the viewer's 20:00. Pages still write UTC, which
    the browser shows in that zone; without the cookie (the first page, no JavaScript) forms read UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request.COOKIES.get(TIME_ZONE_COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
