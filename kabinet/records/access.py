"""Who may read and change which documents: the role sets and checks that services and selectors share.

- Staff read their organisation's documents: the clinical roles (administrator, doctor, nurse) every kind, the
  other desk roles (registrar, operator, coordinator) the administrative kinds only (consents, contracts, scans,
  other). A patient's upload is restricted: besides administrators only the doctors it went to or was shared
  with (and its author) see it.
- Staff create and revise: the clinical roles any kind; registrars the administrative kinds (they scan and attach
  contracts and consents).
- "Entered in error": an administrator, a doctor, or the document's author. Deleting (soft, with a reason): an
  administrator, or a doctor who wrote the document.
- A medical entry (medication, diagnosis, procedure, doctor's note) "entered in error": likewise an administrator,
  a doctor, or its author while they still hold a clinical role.
- Sharing a document with another doctor: administrators and doctors who can see it.
- Patients (and the proxies of their wards) read their own documents and upload photos and documents; they
  change nothing else.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q

from kabinet.core import permissions
from kabinet.core.exceptions import NotAllowed
from kabinet.core.models import STAFF_ROLES, Role
from kabinet.records.models import ADMINISTRATIVE_KINDS, ClinicalEntry, Document, DocumentShare

CLINICAL_ROLES = frozenset({Role.ADMIN, Role.DOCTOR, Role.NURSE})
ADMINISTRATIVE_WRITE_ROLES = CLINICAL_ROLES | {Role.REGISTRAR}
ERRONEOUS_ROLES = frozenset({Role.ADMIN, Role.DOCTOR})
SHARE_ROLES = frozenset({Role.ADMIN, Role.DOCTOR})


def readable_kinds(roles: set[str]) -> frozenset[str] | None:
    """Kinds a staff member with these roles reads (None: every kind)."""
    if roles & CLINICAL_ROLES:
        return None
    if roles & STAFF_ROLES:
        return ADMINISTRATIVE_KINDS
    return frozenset()


def can_write(user: Any, organisation_id: int, kind: str) -> bool:
    roles = permissions.roles_in(user, organisation_id)
    if roles & CLINICAL_ROLES:
        return True
    return bool(roles & ADMINISTRATIVE_WRITE_ROLES) and kind in ADMINISTRATIVE_KINDS


def writable_kinds(user: Any, organisation_id: int) -> list[str]:
    from kabinet.records.models import DocumentKind

    return [kind for kind in DocumentKind.values if can_write(user, organisation_id, kind)]


def require_write(user: Any, organisation_id: int, kind: str) -> None:
    if not can_write(user, organisation_id, kind):
        raise NotAllowed()


def can_mark_erroneous(user: Any, document: Document) -> bool:
    roles = permissions.roles_in(user, document.organisation_id)
    if roles & ERRONEOUS_ROLES:
        return True
    return bool(roles & STAFF_ROLES) and document.author_id == getattr(user, "pk", None)


def can_delete(user: Any, document: Document) -> bool:
    roles = permissions.roles_in(user, document.organisation_id)
    if Role.ADMIN in roles:
        return True
    return Role.DOCTOR in roles and document.author_id == getattr(user, "pk", None)


def can_sign(document: Document) -> bool:
    """A signature can be drawn on the screen on documents rendered from a template (others are signed on paper
    and scanned); who may do it is `can_revise`."""
    return document.template_id is not None and document.origin == Document.Origin.TEMPLATE


def can_revise(user: Any, document: Document) -> bool:
    return document.status == Document.Status.ACTIVE and can_write(user, document.organisation_id, document.kind)


def can_share(user: Any, document: Document) -> bool:
    return bool(permissions.roles_in(user, document.organisation_id) & SHARE_ROLES)


def staff_condition(user: Any, organisation_id: int) -> Q | None:
    """The documents of one organisation a staff member may see (None: not staff there)."""
    roles = permissions.roles_in(user, organisation_id)
    if not roles & STAFF_ROLES:
        return None
    condition = Q(organisation_id=organisation_id)
    kinds = readable_kinds(roles)
    if kinds is not None:
        condition &= Q(kind__in=sorted(kinds))
    if Role.ADMIN not in roles:
        shared = DocumentShare.objects.filter(document=OuterRef("pk"), member__user=user, member__is_active=True)
        condition &= Q(restricted=False) | Q(author_id=user.pk) | Q(Exists(shared))
    return condition


# --- medical data (medications, diagnoses, procedures, doctors' notes, before/after pairs) -----------------------
# The same line as for clinical documents: the clinical roles read and write them, the desk roles do not read them
# (the card header still shows every role the allergies), patients read their own through the API.


def can_read_medical(user: Any, organisation_id: int) -> bool:
    return bool(permissions.roles_in(user, organisation_id) & CLINICAL_ROLES)


def can_write_medical(user: Any, organisation_id: int) -> bool:
    return bool(permissions.roles_in(user, organisation_id) & CLINICAL_ROLES)


def require_write_medical(user: Any, organisation_id: int) -> None:
    if not can_write_medical(user, organisation_id):
        raise NotAllowed()


def can_mark_medical_erroneous(user: Any, entry: ClinicalEntry) -> bool:
    """As for documents: administrators, doctors and the entry's author (a nurse marks only her own entries)."""
    roles = permissions.roles_in(user, entry.organisation_id)
    if roles & ERRONEOUS_ROLES:
        return True
    return bool(roles & CLINICAL_ROLES) and entry.author_id == getattr(user, "pk", None)
