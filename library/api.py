"""The library as JSON: platforms and ROMs for apps, each method behind its scope.

Answers are RomM 5's shapes (``library/schemas.py``, and ``library/rom_query.py`` for the ROM
list). Bodies are JSON objects validated by the same forms as the pages (``library/forms.py``);
this module only turns JSON into form data and form errors into JSON. Refusals are
``{"detail"}`` with a sentence naming the field, plus ``errors`` (field -> messages) for
programs. Every read and write starts from what the caller may see (``library/visibility.py``):
a platform hidden from them, or a ROM on it, is the same 404 as a missing one.
"""

import json
import logging
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, TooManyFieldsSent
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.forms.models import model_to_dict
from django.http import HttpResponse, JsonResponse

from accounts.api.access import api_view
from library import rom_query
from library.forms import MAX_ID, PlatformForm, PlatformQueryForm, RomForm, RomQueryForm
from library.models import Platform, Rom
from library.schemas import platform_json, rom_detail_json, with_counts
from library.visibility import visible_platforms, visible_roms
from romm_site.text import is_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """What differs between platforms and ROMs: the model, its form, its JSON, its name in sentences."""

    model: type
    visible: object  # user -> the objects of this kind they may see
    form: type
    to_json: object
    noun: str
    romm_noun: str  # as RomM's "not found" sentence names it
    # JSON key -> form field, where they differ (a foreign key is ``<name>_id`` in JSON).
    renamed: tuple = ()
    # RomM's name of a field -> this site's JSON key: either may be written.
    aliases: tuple = ()

    def json_name(self, field):
        return {form: key for key, form in self.renamed}.get(field, field)

    def form_name(self, key):
        return dict(self.renamed).get(key, key)

    def fields(self):
        """The JSON keys a body may carry, in the form's order."""
        return [self.json_name(name) for name in self.form.base_fields]


PLATFORMS = Kind(
    Platform,
    visible_platforms,
    PlatformForm,
    platform_json,
    "platform",
    "Platform",
    aliases=(("fs_slug", "slug"),),
)
ROMS = Kind(
    Rom,
    visible_roms,
    RomForm,
    rom_detail_json,
    "ROM",
    "Rom",
    renamed=(("platform_id", "platform"),),
    aliases=(("fs_name", "file_name"), ("fs_size_bytes", "size_bytes")),
)


class Refused(Exception):
    """A request this module answers with ``{"detail"}`` (and ``errors`` when fields are at fault)."""

    def __init__(self, status, detail, errors=None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def refused(request, error):
    """The JSON answer to ``error``, with one log line for the operator."""
    logger.warning(
        "library API: %s %r by %s refused (%s): %s",
        request.method,
        request.path,
        caller(request),
        error.status,
        sorted(error.errors) if error.errors else error.detail,
    )
    body = {"detail": error.detail}
    if error.errors:
        body["errors"] = error.errors
    return JsonResponse(body, status=error.status)


def caller(request):
    """``'bob' (client_token 12)``: who made the request and with what, for log lines (never the token)."""
    access = getattr(request, "access", None)
    if access is None:
        return "anonymous"
    token = f" {access.token.pk}" if access.token is not None else ""
    return f"{access.user.username!r} ({access.credential}{token})"


# --- reading the request ---------------------------------------------------------------------
def find(kind, pk, user):
    """The ``kind`` object with id ``pk`` (a path segment) that ``user`` may see, or ``Refused`` 404."""
    if pk.isascii() and pk.isdigit() and 0 < int(pk) <= MAX_ID:
        found = kind.visible(user).filter(pk=int(pk)).first()
        if found is not None:
            return found
    # RomM's sentence, which apps tell apart from an unknown path's "Not Found".
    raise Refused(
        404, f"{kind.romm_noun} with id '{pk[:40]}' not found. List them with GET /api/{kind.noun.lower()}s."
    )


def json_body(request, kind):
    """The request body as a dict of known fields, or ``Refused`` 400 saying what is wrong."""
    example = "{" + ", ".join(f'"{key}": …' for key in kind.fields()) + "}"
    try:
        body = json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise Refused(400, "The body is too large. Send one JSON object of a few fields.") from None
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Refused(400, f"The body is not valid JSON. Send a JSON object like {example}.") from None
    if not isinstance(body, dict):
        raise Refused(400, f"The body must be a JSON object like {example}.")
    body.pop("id", None)  # read-only: a client may send back the object it received
    unknown = sorted(set(body) - set(kind.fields()) - {romm for romm, _ in kind.aliases})
    if unknown:
        also = f" (or RomM's {', '.join(romm for romm, _ in kind.aliases)})" if kind.aliases else ""
        raise Refused(
            400,
            f"Unknown field {', '.join(unknown)}: a {kind.noun} has {', '.join(kind.fields())}{also}.",
            {key: ["Unknown field."] for key in unknown},
        )
    for romm, own in kind.aliases:
        if romm in body:
            value = body.pop(romm)
            if own in body and body[own] != value:
                errors = {romm: [f"Differs from {own}: send one of them."]}
                raise Refused(400, field_sentence(errors), errors)
            body[own] = value
    return body


def expected_type(field):
    """The JSON type a form field takes: numbers for ids and sizes, strings for the rest."""
    return int if isinstance(field, (forms.IntegerField, forms.ModelChoiceField)) else str


def check_types(kind, body):
    """``Refused`` 400 for a value of the wrong JSON type (forms would quietly turn ``[1]`` into ``"[1]"``)."""
    wrong = {}
    for key, value in body.items():
        want = expected_type(kind.form.base_fields[kind.form_name(key)])
        if value is not None and (type(value) is not want):  # bool is an int subclass: refuse it too
            wrong[key] = [f"Expected {'a whole number' if want is int else 'a string'} or null."]
        elif isinstance(value, str) and not is_text(value):
            wrong[key] = ["Not valid text (it holds a lone UTF-16 surrogate)."]
    if wrong:
        raise Refused(400, field_sentence(wrong), wrong)


def field_sentence(errors):
    return " ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items())


def bound_form(kind, body, user, instance=None, partial=False):
    """The kind's form bound to ``body`` for ``user``; PATCH keeps the fields the body leaves out."""
    check_types(kind, body)
    data = model_to_dict(instance, fields=list(kind.form.base_fields)) if partial else {}
    data.update({kind.form_name(key): value for key, value in body.items()})
    return kind.form(data, instance=instance, user=user)


def form_refusal(kind, form):
    """``Refused`` for an invalid form: 409 when the values clash with another object, else 400."""
    errors, conflict = {}, False
    for field, problems in form.errors.as_data().items():
        key = kind.json_name(field)
        if field == NON_FIELD_ERRORS:
            # The only whole-object rule is a uniqueness constraint (a ROM's file name per platform).
            key, conflict = "file_name", True
        messages = []
        for problem in problems:
            if problem.code == "unique":
                conflict = True
            if problem.code == "invalid_choice" and key == "platform_id":
                messages.append("There is no platform with this id. List them with GET /api/platforms.")
            else:
                messages.extend(problem.messages)
        errors.setdefault(key, []).extend(messages)
    return Refused(409 if conflict else 400, field_sentence(errors), errors)


# --- writing ---------------------------------------------------------------------------------
def save(request, kind, instance=None, partial=False):
    """Create (no ``instance``) or change an object from the JSON body; the saved object as JSON."""
    form = bound_form(kind, json_body(request, kind), request.user, instance, partial)
    if not form.is_valid():
        raise form_refusal(kind, form)
    try:
        with transaction.atomic():
            saved = form.save()
    except IntegrityError:
        # Another request changed the library between validation and saving: it deleted the
        # platform, or took the same unique value.
        platform = form.cleaned_data.get("platform")
        if platform is not None and not Platform.objects.filter(pk=platform.pk).exists():
            errors = {
                "platform_id": ["This platform was deleted a moment ago. List them with GET /api/platforms."]
            }
            raise Refused(400, field_sentence(errors), errors) from None
        raise Refused(
            409,
            f"Another {kind.noun} with these values was saved at the same moment. Fetch it, or change "
            "the name or file name.",
        ) from None
    action = "changed" if instance is not None else "created"
    logger.info("library API: %s %s %s %s %r", caller(request), action, kind.noun, saved.pk, saved.name)
    return JsonResponse(kind.to_json(saved), status=200 if instance is not None else 201)


def delete(request, kind, instance):
    pk = instance.pk  # delete() sets instance.pk to None, even when the commit then fails
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, IntegrityError):  # IntegrityError: a ROM filed under it at the same moment
        count = Rom.objects.filter(platform_id=pk).count()
        raise Refused(
            409,
            f"The platform {instance.name} still has {count} ROM(s). Delete them or move them to another "
            "platform first.",
        ) from None
    logger.info("library API: %s deleted %s %s %r", caller(request), kind.noun, pk, instance.name)
    return HttpResponse(status=204)


def one(request, kind, pk):
    """GET, PUT, PATCH or DELETE one object."""
    instance = find(kind, pk, request.user)
    if request.method == "GET":
        return JsonResponse(kind.to_json(instance))
    if request.method == "DELETE":
        return delete(request, kind, instance)
    return save(request, kind, instance, partial=request.method == "PATCH")


def answer(request, handler, *args):
    try:
        return handler(request, *args)
    except Refused as error:
        return refused(request, error)


# --- the views -------------------------------------------------------------------------------
def library_view(resource, *methods):
    """``api_view`` needing ``<resource>.read`` for GET and ``<resource>.write`` for the other methods."""
    return api_view(*methods, scope={m: f"{resource}.{'read' if m == 'GET' else 'write'}" for m in methods})


@library_view("platforms", "GET", "POST")
def platforms(request):
    """``/api/platforms``: every platform (a JSON list), or POST one."""
    if request.method == "POST":
        return answer(request, save, PLATFORMS)
    return answer(request, platform_list)


@library_view("platforms", "GET", "PUT", "PATCH", "DELETE")
def platform(request, pk):
    """``/api/platforms/<id>``."""
    return answer(request, one, PLATFORMS, pk)


@library_view("roms", "GET", "POST")
def roms(request):
    """``/api/roms``: ``{items, total}`` filtered, searched and paged by the query string, or POST one."""
    if request.method == "POST":
        return answer(request, save, ROMS)
    return answer(request, rom_page)


@library_view("roms", "GET", "PUT", "PATCH", "DELETE")
def rom(request, pk):
    """``/api/roms/<id>``."""
    return answer(request, one, ROMS, pk)


def valid_query(request, form_class):
    """The query string cleaned by ``form_class``, or ``Refused`` 400 naming each bad parameter."""
    try:
        form = form_class(request.GET)
    except TooManyFieldsSent:
        raise Refused(
            400,
            f"The query string has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters. Send fewer.",
        ) from None
    if not form.is_valid():
        errors = {key: list(messages) for key, messages in form.errors.items()}
        raise Refused(400, field_sentence(errors), errors)
    return form.cleaned_data


def platform_list(request):
    """Every platform with its ROM count and size, by name; RomM's ``updated_after`` narrows it."""
    query = valid_query(request, PlatformQueryForm)
    # Explicitly by name: an aggregate query does not take the model's default ordering.
    found = with_counts(visible_platforms(request.user).order_by("name", "pk"))
    if query["updated_after"] is not None:
        found = found.filter(updated_at__gt=query["updated_after"])
    return JsonResponse([platform_json(p) for p in found], safe=False)


def rom_page(request):
    query = valid_query(request, RomQueryForm)
    body = rom_query.page(query, visible_roms(request.user))
    platform_id = query["platform_id"]
    # This site's own platform_id names one platform, and a wrong one is a mistake worth saying
    # (a hidden one is as wrong as a missing one); RomM's platform_ids, like RomM, just matches
    # nothing.
    if (
        body["total"] == 0
        and platform_id is not None
        and not visible_platforms(request.user).filter(pk=platform_id).exists()
    ):
        raise Refused(
            400,
            f"platform_id: There is no platform with id {platform_id}. List them with GET /api/platforms.",
            {"platform_id": ["There is no platform with this id."]},
        )
    return JsonResponse(body)
