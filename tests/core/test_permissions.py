"""Roles and memberships cached on the user object: the membership comes from the same query as the roles."""

from __future__ import annotations

from typing import Any

import pytest

from kabinet.accounts.models import User
from kabinet.core import permissions
from kabinet.core.models import Member, Organisation, Role
from tests.factories import member

pytestmark = pytest.mark.django_db


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_the_active_membership_comes_with_the_roles(
    registrar: User, org: Organisation, other_org: Organisation, django_assert_num_queries: Any
) -> None:
    own = Member.objects.get(user=registrar, organisation=org)
    user = _fresh(registrar)
    with django_assert_num_queries(1):  # memberships joined to their organisations and roles
        assert permissions.has_role(user, org, Role.REGISTRAR)
    with django_assert_num_queries(0):
        found = permissions.active_member(user, org.pk)
        assert found is not None and found.pk == own.pk
        assert found.user is user  # its user is the caller, not another query
        assert found.organisation == org and found.role_codes == {Role.REGISTRAR}
        assert not permissions.requires_two_factor(user)
        assert permissions.active_member(user, other_org) is None
        assert permissions.active_member(user, None) is None


def test_no_membership_for_an_inactive_membership_or_user(registrar: User, org: Organisation) -> None:
    Member.objects.filter(user=registrar, organisation=org).update(is_active=False)
    assert permissions.active_member(_fresh(registrar), org) is None
    Member.objects.filter(user=registrar, organisation=org).update(is_active=True)
    assert permissions.active_member(_fresh(registrar), org) is not None
    User.objects.filter(pk=registrar.pk).update(is_active=False)
    assert permissions.active_member(_fresh(registrar), org) is None


def test_forgetting_the_roles_forgets_the_memberships(
    registrar: User, org: Organisation, other_org: Organisation
) -> None:
    assert permissions.active_member(registrar, other_org) is None
    joined = member(registrar, other_org, Role.DOCTOR)
    assert permissions.active_member(registrar, other_org) is None  # cached for the user object's life
    permissions.forget_roles(registrar)
    found = permissions.active_member(registrar, other_org)
    assert found is not None and found.pk == joined.pk


def test_a_membership_without_roles_or_with_several_counts_once(
    registrar: User, org: Organisation, other_org: Organisation
) -> None:
    """The roles come joined to the memberships, a row per role: neither none nor two make a membership vanish or
    repeat."""
    Member.objects.create(user=registrar, organisation=other_org)
    own = Member.objects.get(user=registrar, organisation=org)
    own.roles.create(role=Role.DOCTOR)
    user = _fresh(registrar)
    assert permissions.roles_by_organisation(user) == {org.pk: {Role.REGISTRAR, Role.DOCTOR}, other_org.pk: set()}
    assert sorted(permissions.organisations_of(user)) == sorted([org.pk, other_org.pk])
    assert permissions.active_member(user, other_org) is not None


def test_the_tenancy_takes_the_organisation_from_the_membership(
    registrar: User, org: Organisation, rf: Any, django_assert_num_queries: Any
) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    from kabinet.core import tenancy

    request = rf.get("/")
    request.user, request.session = _fresh(registrar), SessionStore()
    with django_assert_num_queries(1):  # the memberships, with the organisation
        assert tenancy.current_organisation(request) == org
