"""The 400 page: Django's, with a sentence for a request refused for its size, which the page read as a bad address."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render 400.html; for a request over Django's size limits, with the limit it passed (never the exception's
    own text: it may hold what was sent)."""
    reason = ""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        reason = f"The form sent more than {limit / 1_000_000:.1f} MB, the most this site takes; nothing was done."
    elif isinstance(exception, (TooManyFieldsSent, TooManyFilesSent)):
        reason = "The form sent more fields than this site takes; nothing was done."
    return render(request, "400.html", {"reason": reason}, status=400)
