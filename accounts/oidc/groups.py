"""Provider groups mirrored as this site's groups: ``OIDC_GROUPS`` (docs/groups.md).

At every sign-in and every recheck, the person's membership in the Django groups whose names
the provider's ``OIDC_GROUPS`` patterns match is set to exactly the matching values of the roles
claim (``OIDC_CLAIM_ROLES``). ``plan`` computes what would change (the doctor shows it too);
``apply`` writes it: a group to join is created when it does not exist yet, each join and leave
is one log line and one sign-in history row, and groups the patterns do not match (an
administrator's own) are never touched. An absent claim changes nothing.

A claim is the provider's to fill, so what one claim can do here is bounded: names longer
than Django's ``Group.name`` column, or with a control character (NUL included), are ignored,
only the first ``MAX_GROUPS`` matching names count, and one sign-in creates at most
``MAX_CREATED`` groups.
"""

import functools
import logging
import unicodedata
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from accounts.audit import history
from accounts.models import SignInEvent
from accounts.oidc.roles import MISSING, claim_strings, claim_value

logger = logging.getLogger(__name__)

MAX_NAME = Group._meta.get_field("name").max_length
# Matching values of one claim that count; the rest are ignored (and logged).
MAX_GROUPS = 100
# Groups one sign-in may create; a claim naming more new ones creates them over several sign-ins.
MAX_CREATED = 20


def pattern_problem(pattern):
    """Why ``pattern`` cannot be an ``OIDC_GROUPS`` entry, or None (accounts.checks reports it)."""
    if "*" in pattern[:-1]:
        return "a * may only end a pattern (romm-* matches every group starting with romm-)"
    if len(pattern.rstrip("*")) > MAX_NAME:
        return f"longer than a group name may be ({MAX_NAME} characters)"
    if any(unicodedata.category(char) == "Cc" for char in pattern):
        return "it contains a control character"
    return None


def matches(patterns, name):
    """Whether one of ``patterns`` names the group ``name`` (exactly, or by the prefix before a trailing *)."""
    return _matcher(tuple(patterns))(name)


@functools.lru_cache(maxsize=64)
def _matcher(patterns):
    """``name -> bool`` for ``patterns``, built once per configuration; a pattern the system check
    refuses matches nothing."""
    usable = [pattern for pattern in patterns if not pattern_problem(pattern)]
    exact = {pattern for pattern in usable if not pattern.endswith("*")}
    prefixes = tuple(pattern[:-1] for pattern in usable if pattern.endswith("*"))
    return lambda name: name in exact or (bool(prefixes) and name.startswith(prefixes))


def usable_name(name):
    """Whether a group may be called ``name``: not empty, within the column, no control character."""
    return 0 < len(name) <= MAX_NAME and (
        name.isprintable() or not any(unicodedata.category(char) == "Cc" for char in name)
    )


def mirrored_by(name, providers):
    """The providers (of ``providers``) whose ``OIDC_GROUPS`` mirror the group ``name``."""
    return [provider for provider in providers if provider.groups and matches(provider.groups, name)]


def wanted(provider, claims):
    """The group names the claims give the person, or None when nothing is to be synced
    (``OIDC_GROUPS`` off for this provider, or the claim absent)."""
    if not provider.groups or not provider.claim_roles:
        return None
    value = claim_value(claims, provider.claim_roles)
    if value is MISSING or value is None:
        return None
    matching, names, unusable = _matcher(tuple(provider.groups)), [], 0
    for name in dict.fromkeys(claim_strings(value)):
        if not matching(name):
            continue
        if not usable_name(name):
            unusable += 1
        elif len(names) < MAX_GROUPS:
            names.append(name)
        else:
            logger.warning("OIDC groups: the %s claim from %s matches more than %d groups; the first %d count",
                           provider.claim_roles, provider.name, MAX_GROUPS, MAX_GROUPS)
            break
    if unusable:
        logger.warning("OIDC groups: %d matching value(s) of %s from %s ignored (empty, longer than %d "
                       "characters, or with a control character)", unusable, provider.claim_roles, provider.name,
                       MAX_NAME)
    return sorted(names)


@dataclass
class Plan:
    """What a sign-in changes in the person's mirrored groups."""

    join: list = field(default_factory=list)
    leave: list = field(default_factory=list)
    keep: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.join or self.leave)


def plan(provider, user, names):
    """Join and leave for ``user`` (None or unsaved: from nothing) to hold exactly ``names`` among
    the groups ``provider`` mirrors."""
    if names is None:
        return Plan()
    held = set()
    if user is not None and user.pk is not None:
        held = {name for name in user.groups.values_list("name", flat=True) if matches(provider.groups, name)}
    return Plan(join=sorted(set(names) - held), leave=sorted(held - set(names)), keep=sorted(held & set(names)))


def apply(request, provider, user, names, subject):
    """Bring ``user``'s mirrored groups to ``names``; call it holding the account's row lock (the
    sign-in's ``OIDCBackend.update_user``), so simultaneous sign-ins of one person change them one
    after the other, each seeing what the previous wrote. Returns the plan carried out."""
    changes = plan(provider, user, names)
    if not changes:
        return changes
    joined = []
    existing = {group.name: group for group in Group.objects.filter(name__in=changes.join)}
    created, postponed = 0, 0
    for name in changes.join:
        group = existing.get(name)
        if group is None:
            if created == MAX_CREATED:
                postponed += 1
                continue
            group, made = _get_or_create(name)
            created += made
            if made:
                logger.info("OIDC group %r created for %s (OIDC_GROUPS)", name, provider.name)
        joined.append(group)
    if postponed:
        logger.warning("OIDC groups: %d more group(s) for %r not created: one sign-in creates at most %d",
                       postponed, user.username, MAX_CREATED)
    user.groups.add(*joined)
    leaving = list(Group.objects.filter(name__in=changes.leave).order_by("name"))
    user.groups.remove(*leaving)
    for reason, groups, verb in (("group_joined", joined, "joined"), ("group_left", leaving, "left")):
        for group in groups:
            logger.info("OIDC groups: %r %s group %r (%s)", user.username, verb, group.name, provider.name)
            history.record(request, SignInEvent.Method.GROUP, SignInEvent.Outcome.CHANGED, user=user,
                           reason=reason, detail=group.name, provider=provider.name, subject=subject)
    return Plan(join=[group.name for group in joined], leave=[group.name for group in leaving], keep=changes.keep)


def _get_or_create(name):
    """The group ``name`` and whether this call made it; a simultaneous sign-in may make it first."""
    try:
        with transaction.atomic():
            return Group.objects.create(name=name), True
    except IntegrityError:
        # Group.name is unique: the other sign-in's row is committed by now (PostgreSQL waits
        # for it before refusing this one), so it can be read.
        return Group.objects.get(name=name), False
