"""The JSON API of SPEC section 3."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET


def user_json(user):
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "identities": [
            {"provider": i.provider, "issuer": i.issuer, "subject": i.subject}
            for i in user.identities.all()
        ],
    }


@require_GET
def users_me(request):
    """``/api/users/me``: the signed-in account, or 401."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Not signed in."}, status=401)
    return JsonResponse(user_json(request.user))
