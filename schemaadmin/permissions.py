"""Who may open what: the roles' permissions, the view decorator, and the navigation built from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db import router
from django.db.models import OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import get_script_prefix, get_urlconf, reverse

from schemaadmin import audit

__all__ = [
    "NAVIGATION",
    "ROLES",
    "NavItem",
    "OneQueryModelBackend",
    "audit_refusal",
    "deny",
    "has_any_role",
    "navigation_for",
    "permission_required",
    "role_required",
]

# The groups migration 0002 creates, with the permission codenames each holds.
ROLES: dict[str, tuple[str, ...]] = {
    "support": ("view_conversations",),
    "operator": ("view_conversations", "view_health", "view_rebuilds", "view_schema"),
    "dba": (
        "view_conversations",
        "view_health",
        "view_rebuilds",
        "view_schema",
        "run_explain",
        "rebuild_index",
        "apply_migrations",
        "view_audit",
        "view_query_text",
        "signal_sessions",
    ),
}

type ViewFunction = Callable[..., HttpResponseBase]


def deny(request: HttpRequest, required: str, sentence: str) -> NoReturn:
    """Audit a signed-in person's request refused for a right they lack, then refuse it with 403 and the sentence."""
    audit_refusal(request, required)
    raise PermissionDenied(sentence)


def audit_refusal(request: HttpRequest, required: str) -> None:
    """Audit a signed-in person's request refused for a right they lack (access.denied: the path, the method and
    the permission it needs).

    The refusal does not depend on the audit (audit.record_refusal): an event that cannot be written is logged, and
    the request is refused all the same.
    """
    audit.record_refusal(request, "access.denied", request.path, permission=required, method=request.method)


def permission_required[View: ViewFunction](codename: str) -> Callable[[View], View]:
    """Refuse the view with 403 unless the signed-in user holds schemaadmin.<codename>."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(f"schemaadmin.{codename}"):
                deny(request, codename, f"Your role does not include “{codename.replace('_', ' ')}”.")
            return view(request, *args, **kwargs)

        wrapped.required_permission = codename  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


class OneQueryModelBackend(ModelBackend):
    """Django's ModelBackend, reading a user's permissions (own and through groups) with the user, not apart.

    Every page checks a permission and builds the navigation from them. The signed-in user of a request is read
    with its permissions in one statement (get_user); a user read otherwise gets them in one query, not two.
    """

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        alias = router.db_for_read(model)
        sql, params, at = _user_statement(model, alias)
        found = model._default_manager.db_manager(alias).raw(sql, [*params[:at], user_id, *params[at + 1 :]])
        user: Any = next(iter(found), None)
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:  # a superuser holds every permission: ModelBackend lists them when asked
            user._perm_cache = set(user.schemaadmin_permission_names)
        return user

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                user_obj._perm_cache = super().get_all_permissions(user_obj)
            else:
                found = (
                    Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
                    .values_list("content_type__app_label", "codename")
                    .distinct()
                )
                user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in found}
        return user_obj._perm_cache


# A user id no row has: where it lands among the compiled statement's parameters is where each request's id goes.
_STAND_IN_ID = -918273645


@cache
def _user_statement(model: type[Any], alias: str) -> tuple[str, tuple[Any, ...], int]:
    """Return the SQL and parameters of "the user with their permission names", and the place of the user id.

    Compiled once per process: building the nested subqueries through the ORM cost ~1.7 ms of CPU a request.
    """
    users = _with_permission_names(model._default_manager.using(alias).filter(pk=_STAND_IN_ID))
    sql, params = users.query.sql_with_params()
    assert params.count(_STAND_IN_ID) == 1, params
    return sql, tuple(params), params.index(_STAND_IN_ID)


def _with_permission_names(users: QuerySet[Any]) -> QuerySet[Any]:
    """Return users annotated with schemaadmin_permission_names: "app_label.codename" of each permission held."""
    # Two semi-joins through the user's indexed rows, not a join of every user's groups filtered afterwards.
    own = Permission.user_set.through.objects.filter(user_id=OuterRef(OuterRef("pk"))).values("permission_id")
    grouped = Permission.group_set.through.objects.filter(group__user=OuterRef(OuterRef("pk"))).values("permission_id")
    held = Permission.objects.filter(Q(pk__in=own) | Q(pk__in=grouped))
    names = held.values(label=Concat("content_type__app_label", Value("."), "codename"))
    return users.annotate(schemaadmin_permission_names=ArraySubquery(names))


def has_any_role(user: Any) -> bool:
    """Return whether the user holds any SchemaAdmin permission (superusers hold all)."""
    return user.is_superuser or any(p.startswith("schemaadmin.") for p in user.get_all_permissions())


def role_required[View: ViewFunction](view: View) -> View:
    """Refuse the view with 403 unless the signed-in user has some SchemaAdmin role."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not has_any_role(request.user):
            deny(
                request,
                "any role",
                "Your account has no SchemaAdmin role yet. Ask an administrator to add you to the "
                "support, operator or dba group.",
            )
        return view(request, *args, **kwargs)

    wrapped.required_permission = "any role"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    url_name: str
    permission: str | None  # None: every signed-in user; "superuser": superusers only
    more: bool = False  # less used: under the bar's "More" menu when the bar would be crowded


# The top navigation, in order; each page adds its entry when it is built.
NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Overview", "schemaadmin:overview", None),
    NavItem("Findings", "schemaadmin:findings", "view_health"),
    NavItem("Indexes", "schemaadmin:indexes", "view_health"),
    NavItem("Rebuilds", "schemaadmin:rebuilds", "view_rebuilds"),
    NavItem("Tables", "schemaadmin:tables", "view_health"),
    NavItem("Queries", "schemaadmin:queries", "view_health"),
    NavItem("Activity", "schemaadmin:activity", "view_health"),
    NavItem("Schema", "schemaadmin:schema", "view_schema"),
    NavItem("Conversations", "schemaadmin:conversations", "view_conversations"),
    NavItem("Users", "schemaadmin:users", "view_conversations", more=True),
    NavItem("Audit", "schemaadmin:audit", "view_audit", more=True),
    NavItem("EXPLAIN", "schemaadmin:explain", "run_explain"),
    NavItem("Admin", "admin:index", "superuser", more=True),
)


def navigation_for(user: Any) -> list[tuple[str, str]]:
    """Return (label, url) for each page the user may open."""
    items = []
    for item in NAVIGATION:
        if item.permission == "superuser":
            allowed = user.is_superuser
        else:
            allowed = item.permission is None or user.has_perm(f"schemaadmin.{item.permission}")
        if allowed:
            items.append((item.label, _url(item.url_name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))))
    return items


@cache
def _url(url_name: str, script_prefix: str, urlconf: str) -> str:
    """Return reverse(url_name): the same for every request of a process (keyed by what reverse depends on)."""
    return reverse(url_name, urlconf=urlconf)
