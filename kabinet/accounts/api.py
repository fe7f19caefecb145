"""API endpoints about the caller: who am I, my memberships."""

from __future__ import annotations

from ninja import Router, Schema

from kabinet.accounts.http import AuthenticatedRequest
from kabinet.core import permissions
from kabinet.core.models import Organisation

router = Router(tags=["accounts"])


class MembershipOut(Schema):
    organisation_id: int
    organisation: str
    roles: list[str]


class MeOut(Schema):
    id: int
    email: str | None
    phone: str | None
    full_name: str
    language: str
    memberships: list[MembershipOut]


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: AuthenticatedRequest) -> MeOut:
    user = request.user
    roles = permissions.roles_by_organisation(user)
    orgs = Organisation.objects.filter(pk__in=roles.keys()).order_by("name")
    return MeOut(
        id=user.pk,
        email=user.email,
        phone=user.phone,
        full_name=user.full_name,
        language=user.language,
        memberships=[MembershipOut(organisation_id=o.pk, organisation=o.name, roles=sorted(roles[o.pk])) for o in orgs],
    )
