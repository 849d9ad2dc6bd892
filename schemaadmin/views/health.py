from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from schemaadmin.pg.health import database_answers


@login_not_required
@never_cache
@require_safe  # load balancers and uptime checks often ask with HEAD
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database is reachable, 503 when it is not (to GET and HEAD)."""
    if database_answers():
        return JsonResponse({"status": "ok", "database": "reachable"})
    return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Send browsers that ask for /favicon.ico on their own to our icon."""
    return HttpResponsePermanentRedirect(static("schemaadmin/favicon.svg"))
