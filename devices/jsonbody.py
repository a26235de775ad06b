"""Reading the body of an app's request: a JSON object, or the RFC's form encoding."""

import json
from functools import wraps

from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from accounts.api.http import method_not_allowed
from romm_site.text import is_text


class BadBody(Exception):
    """The body cannot be read; ``str(error)`` is the sentence for the person."""


def read(request, allow_form=False):
    """The body as a dict: JSON (an object), or form fields when ``allow_form`` and form-encoded."""
    content_type = request.content_type or ""
    if allow_form and content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            return {key: request.POST.get(key) for key in request.POST}
        except MultiPartParserError:
            raise BadBody("The form body cannot be read: send it form-encoded or as JSON.") from None
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadBody("The body is not valid JSON: send a JSON object.") from None
    if not isinstance(body, dict):
        raise BadBody("The body must be a JSON object.")
    return body


def text(body, field, limit, required=True):
    """A string field, stripped; BadBody naming the field when missing, not a string or too long."""
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise BadBody(f"{field} is required.")
        return ""
    if not isinstance(value, str):
        raise BadBody(f"{field} must be a string.")
    if not is_text(value):
        raise BadBody(f"{field} is not valid text (it holds a lone UTF-16 surrogate).")
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise BadBody(f"{field} is required.")
    if len(value) > limit:
        raise BadBody(f"{field} is longer than {limit} characters.")
    return value


def no_store(response):
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def public_api(*methods):
    """For the endpoints an app calls before it has a token: methods only, no CSRF (no cookie used)."""

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return method_not_allowed(request, methods)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def detail(sentence, status):
    return JsonResponse({"detail": sentence}, status=status)
