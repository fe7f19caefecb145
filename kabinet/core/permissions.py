"""Who may do what: roles per organisation and object-level checks. Services and selectors call these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import F

from kabinet.core.exceptions import NotAllowed
from kabinet.core.models import STAFF_ROLES, Member, Organisation, Role

if TYPE_CHECKING:
    from kabinet.accounts.models import User

_CACHE_ATTR = "_kabinet_roles"
_MEMBERS_ATTR = "_kabinet_members"  # filled together with _CACHE_ATTR, from the same query


def roles_by_organisation(user: Any) -> dict[int, set[str]]:
    """{organisation id: role codes} for an active user's active memberships, cached on the user object (with the
    memberships themselves and their organisations, for active_member and the tenancy).

    One query, run by nearly every request before its view: the memberships joined to their organisations and to
    their roles, a row per role (a membership without roles comes once, with no role)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached: dict[int, set[str]] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = {}
        by_org: dict[int, Member] = {}
        rows = (
            Member.objects.filter(user=user, is_active=True)
            .select_related("organisation")
            .annotate(granted_role=F("roles__role"))
            .order_by("pk")
        )
        for row in rows:
            if row.organisation_id not in by_org:
                row.user = user  # the same person: spares a query wherever the member's user is read
                row.known_role_codes = cached[row.organisation_id] = set()
                by_org[row.organisation_id] = row
            if row.granted_role:
                cached[row.organisation_id].add(row.granted_role)
        setattr(user, _CACHE_ATTR, cached)
        setattr(user, _MEMBERS_ATTR, by_org)
    return cached


def active_member(user: Any, organisation: Organisation | int | None) -> Member | None:
    """The user's active membership of the organisation (None for none, or for an inactive user), from the same
    cache as the roles."""
    if organisation is None or not roles_by_organisation(user):
        return None
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    members: dict[int, Member] | None = getattr(user, _MEMBERS_ATTR, None)
    if members is None:  # roles cached by hand (tests): look the membership up
        return Member.objects.filter(user=user, organisation_id=org_id, is_active=True).first()
    return members.get(org_id)


def forget_roles(user: Any) -> None:
    for attr in (_CACHE_ATTR, _MEMBERS_ATTR):
        if hasattr(user, attr):
            delattr(user, attr)


def roles_in(user: Any, organisation: Organisation | int | None) -> set[str]:
    if organisation is None:
        return set()
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    return roles_by_organisation(user).get(org_id, set())


def has_role(user: Any, organisation: Organisation | int | None, *roles: str) -> bool:
    return bool(roles_in(user, organisation) & set(roles))


def is_staff_of(user: Any, organisation: Organisation | int | None) -> bool:
    return bool(roles_in(user, organisation) & STAFF_ROLES)


def require_role(user: Any, organisation: Organisation | int | None, *roles: str) -> None:
    """Raise NotAllowed unless the user holds one of `roles` in `organisation`."""
    if not has_role(user, organisation, *roles):
        raise NotAllowed()


def require_staff(user: Any, organisation: Organisation | int | None) -> None:
    if not is_staff_of(user, organisation):
        raise NotAllowed()


def can_view_audit(user: Any, organisation: Organisation | int | None) -> bool:
    return has_role(user, organisation, Role.ADMIN)


def requires_two_factor(user: User) -> bool:
    """True when any organisation the user works for requires 2FA for one of the user's roles there."""
    memberships = roles_by_organisation(user)
    if not memberships:
        return False
    members: dict[int, Member] | None = getattr(user, _MEMBERS_ATTR, None)
    if members is not None:  # read with the memberships, in this request
        orgs = [m.organisation for m in members.values()]
    else:  # roles cached by hand (tests)
        orgs = list(Organisation.objects.filter(pk__in=memberships.keys()).only("id", "require_2fa_roles"))
    return any(set(org.require_2fa_roles or []) & memberships[org.pk] for org in orgs)


def organisations_of(user: Any, roles: Iterable[str] | None = None) -> list[int]:
    wanted = set(roles) if roles is not None else None
    return [org_id for org_id, codes in roles_by_organisation(user).items() if wanted is None or codes & wanted]
