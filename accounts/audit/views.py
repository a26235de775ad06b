"""``/admin/sign-in-health`` (the charts, in the admin) and ``/api/admin/sign-in-health`` (their numbers)."""

import logging

from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from accounts.api.access import api_view
from accounts.audit import charts, health

logger = logging.getLogger(__name__)

BAD_DAYS = "days must be 7, 30 or 90 (the number of days the report covers, ending today)."


def requested_days(request):
    """The ``days`` the request asks for (30 when absent), or None when it is not a period offered."""
    raw = request.GET.get("days")
    if raw is None:
        return health.DEFAULT_DAYS
    return int(raw) if raw in {str(days) for days in health.PERIODS} else None


@never_cache
def page(request):
    """The charts, for administrators (the admin's own login and permission check)."""
    return admin.site.admin_view(_page)(request)


def _page(request):
    days = requested_days(request)
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in health",
        "periods": health.PERIODS,
        "days": days,
    }
    if days is None:
        logger.warning("sign-in health refused: days=%r", request.GET.get("days", "")[:20])
        return TemplateResponse(
            request, "admin/sign_in_health.html", {**context, "error": BAD_DAYS}, status=400
        )
    report = health.report(days)
    context.update(report=report, charts=charts.charts(report))
    return TemplateResponse(request, "admin/sign_in_health.html", context)


@api_view("GET", scope="users.read")
def api(request):
    """The report as JSON: administrators by session, tokens with ``users.read``."""
    days = requested_days(request)
    if days is None:
        logger.warning("sign-in health API refused: days=%r", request.GET.get("days", "")[:20])
        return JsonResponse({"detail": BAD_DAYS}, status=400)
    response = JsonResponse(health.report(days))
    response["Cache-Control"] = "no-store"
    return response
