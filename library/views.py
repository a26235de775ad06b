"""The library pages: viewers browse and search; editors add, change and delete.

Every page starts from what the person may see (``library/visibility.py``): a platform hidden
from them, or a ROM on it, is the same 404 as a missing one.
"""

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, ProtectedError, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.api.access import has_role, role_required
from accounts.models import Role
from library.forms import PlatformForm, RomForm, SearchForm
from library.visibility import visible_platforms, visible_roms

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
# What the ROM list says of a filter it cannot use, by the form's error code.
SEARCH_REFUSALS = {
    "invalid_choice": "There is no such platform here: choose one from the list.",
    "max_length": "The search is too long: use at most 200 characters.",
    None: "The search holds a character it cannot contain: type it again.",
}


def _context(request, **extra):
    return {"can_edit": has_role(request.user, Role.EDITOR), **extra}


def _query_string(request):
    """The current search without its page number, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@role_required(Role.VIEWER)
def rom_list(request):
    """Every ROM, searched by name or file name, filtered by platform, 25 a page."""
    form = SearchForm(request.GET or None, user=request.user)
    roms = visible_roms(request.user).select_related("platform")
    search_error = None
    if form.is_valid():
        q = form.cleaned_data["q"].strip()
        if q:
            roms = roms.filter(Q(name__icontains=q) | Q(file_name__icontains=q))
        if form.cleaned_data["platform"]:
            roms = roms.filter(platform=form.cleaned_data["platform"])
    elif form.is_bound:
        # A filter the person cannot use (a platform gone or not shown to them, a search too
        # long) matches nothing: never the whole library as if no filter had been asked for.
        roms = roms.none()
        search_error = " ".join(SEARCH_REFUSALS.get(error.code, SEARCH_REFUSALS[None])
                                for errors in form.errors.as_data().values() for error in errors)
        logger.info("Library search by %r refused: %s", request.user.username, ", ".join(form.errors))
    page = Paginator(roms, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "library/rom_list.html",
        _context(request, form=form, page=page, query=_query_string(request), searching=form.is_bound,
                 search_error=search_error),
    )


@role_required(Role.VIEWER)
def rom_detail(request, pk):
    rom = get_object_or_404(visible_roms(request.user).select_related("platform"), pk=pk)
    return render(request, "library/rom_detail.html", _context(request, rom=rom))


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def rom_add(request):
    form = RomForm(request.POST or None, initial={"platform": request.GET.get("platform")}, user=request.user)
    if request.method == "POST" and form.is_valid():
        rom = form.save()
        logger.info("library: %r added ROM %s (%r)", request.user.username, rom.pk, rom.file_name)
        messages.success(request, f"{rom.name} is added to the library.")
        return redirect(rom)
    return render(
        request, "library/rom_form.html", _context(request, form=form), status=400 if form.errors else 200
    )


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def rom_edit(request, pk):
    rom = get_object_or_404(visible_roms(request.user), pk=pk)
    form = RomForm(request.POST or None, instance=rom, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        logger.info("library: %r changed ROM %s", request.user.username, rom.pk)
        messages.success(request, f"{rom.name} is saved.")
        return redirect(rom)
    return render(
        request,
        "library/rom_form.html",
        _context(request, form=form, rom=rom),
        status=400 if form.errors else 200,
    )


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def rom_delete(request, pk):
    """GET asks for confirmation; POST deletes."""
    rom = get_object_or_404(visible_roms(request.user).select_related("platform"), pk=pk)
    if request.method == "GET":
        return render(
            request,
            "library/confirm_delete.html",
            _context(request, thing=rom, cancel=rom.get_absolute_url()),
        )
    rom.delete()
    logger.info("library: %r deleted ROM %s (%r)", request.user.username, pk, rom.file_name)
    messages.success(request, f"{rom.name} is deleted from the library.")
    return redirect("library:rom_list")


@role_required(Role.VIEWER)
def platform_list(request):
    # By name explicitly: a count-annotated query does not take the model's default ordering.
    platforms = visible_platforms(request.user).annotate(rom_count=Count("roms")).order_by("name", "pk")
    return render(request, "library/platform_list.html", _context(request, platforms=platforms))


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def platform_add(request):
    form = PlatformForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        platform = form.save()
        logger.info("library: %r added platform %r", request.user.username, platform.slug)
        messages.success(request, f"The platform {platform.name} is added.")
        return redirect("library:platform_list")
    return render(
        request,
        "library/platform_form.html",
        _context(request, form=form),
        status=400 if form.errors else 200,
    )


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def platform_edit(request, pk):
    platform = get_object_or_404(visible_platforms(request.user), pk=pk)
    form = PlatformForm(request.POST or None, instance=platform, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        logger.info("library: %r changed platform %r", request.user.username, platform.slug)
        messages.success(request, f"The platform {platform.name} is saved.")
        return redirect("library:platform_list")
    return render(
        request,
        "library/platform_form.html",
        _context(request, form=form, platform=platform),
        status=400 if form.errors else 200,
    )


@role_required(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def platform_delete(request, pk):
    """GET asks for confirmation; POST deletes, unless ROMs still use the platform."""
    platform = get_object_or_404(visible_platforms(request.user), pk=pk)
    if request.method == "GET":
        return render(
            request,
            "library/confirm_delete.html",
            _context(request, thing=platform, cancel=reverse("library:platform_list")),
        )
    try:
        platform.delete()
    except ProtectedError:
        messages.error(
            request,
            f"{platform.name} still has ROMs. Move or delete them first, then delete the platform.",
        )
        return redirect("library:platform_list")
    logger.info("library: %r deleted platform %r", request.user.username, platform.slug)
    messages.success(request, f"The platform {platform.name} is deleted.")
    return redirect("library:platform_list")
