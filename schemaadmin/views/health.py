from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from schemaadmin.pg.health import database_answers


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database is reachable, 503 when it is not."""
    if database_answers():
        return JsonResponse({"status": "ok", "database": "reachable"})
    return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
