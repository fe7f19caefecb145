"""API endpoints of the core app: organisations the caller belongs to."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from kabinet.core import selectors

router = Router(tags=["clinics"])


class OrganisationOut(Schema):
    id: int
    name: str
    slug: str


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations the caller belongs to")
def organisations(request: HttpRequest) -> list[OrganisationOut]:
    return [OrganisationOut(id=o.pk, name=o.name, slug=o.slug) for o in selectors.organisations_for(request.user)]
