"""Who sees which platform: the one place that says it (docs/platform-access.md).

A platform with no groups is seen by everyone who may read the library. A platform restricted
to groups, and every ROM filed under it, is seen only by members of one of those groups and by
administrators; for anyone else it does not exist: absent from lists, searches and counts, and
a 404 like a missing one. Every read and write of the library starts from ``visible_platforms``
or ``visible_roms``.

The rule is SQL (``EXISTS`` on the platform's groups), so a list costs the same number of
queries whoever asks, and membership is read at the moment of the query: a token acts as its
owner is now, not as they were when it was made.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Exists, OuterRef

from accounts.api.access import has_role
from accounts.models import Role
from library.models import Platform, PlatformGroup, Rom


def sees_every_platform(user):
    """Administrators (the admin role, or a superuser) see every platform, restricted or not."""
    return has_role(user, Role.ADMIN) or (user.is_authenticated and user.is_active and user.is_superuser)


def _seen_with(group_ids):
    """Platforms that are unrestricted or restricted to a group among ``group_ids`` (a subquery)."""
    restrictions = PlatformGroup.objects.filter(platform_id=OuterRef("pk"))
    return ~Exists(restrictions) | Exists(restrictions.filter(group_id__in=group_ids))


def visible_platforms(user):
    """The platforms ``user`` may see (a list that annotates counts orders it by name itself:
    an aggregate query does not take the model's default ordering)."""
    if sees_every_platform(user):
        return Platform.objects.all()
    # An anonymous person's pk is None, a member of nothing: they see only unrestricted platforms.
    memberships = get_user_model().groups.through.objects.filter(user_id=user.pk).values("group_id")
    return Platform.objects.filter(_seen_with(memberships))


def visible_roms(user):
    """The ROMs ``user`` may see: those on the platforms they may see."""
    if sees_every_platform(user):
        return Rom.objects.all()
    return Rom.objects.filter(platform__in=visible_platforms(user).values("pk"))


# --- what the doctor says (manage.py oidc_doctor) --------------------------------------------
NAMES_SHOWN = 6


def _listed(platforms):
    """``Game Boy (family, kids), Super Nintendo (kids) and 3 more``."""
    named = [f"{p.name} ({', '.join(sorted(g.name for g in p.groups.all()))})" for p in platforms[:NAMES_SHOWN]]
    more = len(platforms) - len(named)
    return ", ".join(named) + (f" and {more} more" if more else "")


def _roms(platforms):
    count = sum(p.rom_count for p in platforms)
    return f"{count:,} ROM{'s' if count != 1 else ''}"


def group_report(group_names, is_admin):
    """What a person in ``group_names`` (Django group names) would see of the library."""
    platforms = list(
        Platform.objects.annotate(
            rom_count=Count("roms"), seen=_seen_with(Group.objects.filter(name__in=group_names).values("pk"))
        )
        .prefetch_related("groups")
        .order_by("name", "pk")
    )
    restricted = [p for p in platforms if p.groups.all()]
    if is_admin:
        return [
            f"Library: an administrator sees every platform, {len(platforms)} ({_roms(platforms)}), "
            f"{len(restricted)} of them restricted to groups."
        ]
    if not restricted:
        return [f"Library: no platform is restricted to groups; sees all {len(platforms)} ({_roms(platforms)})."]
    seen = [p for p in platforms if p.seen]
    through_groups = [p for p in restricted if p.seen]
    hidden = [p for p in restricted if not p.seen]
    lines = [
        f"Library: sees {len(seen)} of {len(platforms)} platforms ({_roms(seen)}); through their groups: "
        + (_listed(through_groups) if through_groups else "none")
        + "."
    ]
    if hidden:
        lines.append(f"Library: does not see {len(hidden)} restricted platform(s) ({_roms(hidden)}): {_listed(hidden)}.")
    return lines
