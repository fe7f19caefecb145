"""Who may see and do what in consultations; services and selectors share these checks.

- Contracts are opened, ended, renewed and marked paid by the front office: administrators and registrars
  (CONTRACT_ROLES). They see every contract of their clinic, but not what is written in the conversations.
- A conversation is read by its patient (and whoever may act for the patient), its doctor and the care team of
  any of its contracts, and by administrators (quality control). Everyone else gets 404, never a hint it exists.
- Writing needs an active contract: then the patient side and the doctor / care team write; administrators only
  read. When the contract ends, both sides keep the history and nobody writes (403 with a message).
- One-off requests are taken and answered by doctors (QUEUE_ROLES); the SLA panel and monthly reports are for
  administrators.
- A video visit (an appointment of a video service) is called by its doctor or by a nurse working at the visit's
  location (APPOINTMENT_CALL_ROLES); its patient and whoever may act for the patient join. Other staff see the visit
  in the calendar but neither start nor join its call (403); everyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from kabinet.core import permissions
from kabinet.core.models import Member, Role
from kabinet.patients.selectors import own_patient_ids

CONTRACT_ROLES = (Role.ADMIN, Role.REGISTRAR)
SUPERVISOR_ROLES = (Role.ADMIN,)
QUEUE_ROLES = (Role.DOCTOR,)
APPOINTMENT_CALL_ROLES = (Role.NURSE,)

PATIENT = "patient"
STAFF = "staff"
SUPERVISOR = "supervisor"


def member_of(user: Any, organisation_id: int) -> Member | None:
    """The user's active membership of the clinic: the one loaded with the user's roles (no query of its own)."""
    return permissions.active_member(user, organisation_id)


def is_participant(user: Any, conversation: Any) -> bool:
    """The conversation's doctor or a member of the care team of one of its contracts (active members only)."""
    if not permissions.is_staff_of(user, conversation.organisation_id):
        return False
    from kabinet.consultations.models import Conversation

    return (
        Conversation.objects.filter(pk=conversation.pk)
        .filter(
            Q(doctor__user=user, doctor__is_active=True)
            | Q(contracts__care_team__user=user, contracts__care_team__is_active=True)
        )
        .exists()
    )


def side_of(user: Any, conversation: Any) -> str | None:
    """How the user takes part: the patient side, the answering staff, a supervising administrator, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if conversation.patient_id in own_patient_ids(user):
        return PATIENT
    if is_participant(user, conversation):
        return STAFF
    if permissions.has_role(user, conversation.organisation_id, *SUPERVISOR_ROLES):
        return SUPERVISOR
    return None


def calls_appointment(user: Any, appointment: Any) -> bool:
    """The visit's doctor, or a nurse working at the visit's location (active members of its clinic)."""
    if not permissions.is_staff_of(user, appointment.organisation_id):
        return False
    member = member_of(user, appointment.organisation_id)
    if member is None:
        return False
    if member.pk == appointment.practitioner_id:
        return True
    return (
        permissions.has_role(user, appointment.organisation_id, *APPOINTMENT_CALL_ROLES)
        and member.locations.filter(pk=appointment.location_id).exists()
    )


def appointment_side(user: Any, appointment: Any) -> str | None:
    """How the user takes part in a video visit's call: the patient side, the calling staff, other staff of the
    clinic (who may see the visit but not its call), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if appointment.patient_id in own_patient_ids(user):
        return PATIENT
    if calls_appointment(user, appointment):
        return STAFF
    if permissions.is_staff_of(user, appointment.organisation_id):
        return SUPERVISOR
    return None


def call_side(user: Any, call: Any) -> str | None:
    """How the user takes part in a video call, whether it belongs to a conversation or to a video visit."""
    if call.appointment_id is not None:
        return appointment_side(user, call.appointment)
    return side_of(user, call.conversation)


def staff_conversation_condition(user: Any) -> Q:
    """Conversations a staff user reads: their own (doctor or care team) and, for administrators, the clinic's."""
    condition = Q(pk__in=[])
    for org_id in permissions.organisations_of(user):
        if not permissions.is_staff_of(user, org_id):
            continue
        if permissions.has_role(user, org_id, *SUPERVISOR_ROLES):
            condition |= Q(organisation_id=org_id)
        else:
            condition |= Q(organisation_id=org_id) & (
                Q(doctor__user=user, doctor__is_active=True)
                | Q(contracts__care_team__user=user, contracts__care_team__is_active=True)
            )
    return condition


def can_manage_contracts(user: Any, organisation_id: int) -> bool:
    return permissions.has_role(user, organisation_id, *CONTRACT_ROLES)


def can_supervise(user: Any, organisation_id: int) -> bool:
    return permissions.has_role(user, organisation_id, *SUPERVISOR_ROLES)


def can_take_requests(user: Any, organisation_id: int) -> bool:
    return permissions.has_role(user, organisation_id, *QUEUE_ROLES)
