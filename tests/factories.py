"""factory_boy factories shared by every test module."""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from kabinet.accounts.models import User
from kabinet.core.models import Location, Member, MemberRole, Organisation, Room
from kabinet.patients.models import Patient

PASSWORD = "correct-horse-battery-9"


class OrganisationFactory(DjangoModelFactory[Organisation]):
    class Meta:
        model = Organisation
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")


class LocationFactory(DjangoModelFactory[Location]):
    class Meta:
        model = Location

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    time_zone = "Europe/Sofia"


class RoomFactory(DjangoModelFactory[Room]):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    organisation = factory.SelfAttribute("location.organisation")
    name = factory.Sequence(lambda n: f"Room {n}")


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Sequence(lambda n: f"User {n}")
    language = "en"

    @factory.post_generation
    def password(self: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        if extracted is False:
            self.set_unusable_password()
        else:
            self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


def member(user: User, organisation: Organisation, *roles: str, **extra: Any) -> Member:
    """Give `user` the roles in `organisation` (creating the membership when needed)."""
    membership, _ = Member.objects.get_or_create(user=user, organisation=organisation, defaults=extra)
    for role in roles:
        MemberRole.objects.get_or_create(member=membership, role=role)
    return membership


class PatientFactory(DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    organisation = factory.SubFactory(OrganisationFactory)
    family_name = factory.Sequence(lambda n: f"Family{n}")
    given_name = "Anna"
