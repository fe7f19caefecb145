"""Reads of documents, scoped to who may see them (records.access), and the mandatory-document checks.

Opening a document or one of its files writes a "document.viewed" audit event here, in the selector, so no page
or API endpoint can show a document without leaving a trace. A document's history is its audit events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.audit.models import AuditEvent
from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import NotAllowed, NotFound
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients.models import Patient
from kabinet.patients.selectors import own_patient_ids
from kabinet.records import access, registry
from kabinet.records.models import (
    ClinicalNote,
    Diagnosis,
    Document,
    DocumentKind,
    DocumentShare,
    DocumentTemplate,
    DocumentVersion,
    MandatoryRule,
    Medication,
    PhotoPair,
    Procedure,
)
from kabinet.records.rendering import field_specs

MISSING_DAYS_DEFAULT = 7
MISSING_DAYS_MAX = 60

HISTORY_LABELS = {
    "document.created": _("created"),
    "document.version_added": _("new version"),
    "document.signed": _("signed on the screen"),
    "document.marked_erroneous": _("marked as entered in error"),
    "document.deleted": _("deleted"),
    "document.shared": _("shared with a doctor"),
}


# --- visibility --------------------------------------------------------------------------------------------------


def documents_visible_to(user: Any, organisation: Organisation | None = None) -> QuerySet[Document]:
    """Documents the user may see: staff by organisation and role (records.access), patients their own and their
    wards'. Deleted documents are never listed."""
    condition = Q(pk__in=[])
    for org_id in permissions.organisations_of(user):
        if organisation is not None and org_id != organisation.pk:
            continue
        staff = access.staff_condition(user, org_id)
        if staff is not None:
            condition |= staff
    own = own_patient_ids(user)
    if own:
        condition |= Q(patient_id__in=sorted(own))
    qs = Document.objects.filter(condition).exclude(status=Document.Status.DELETED)
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


def document_get(*, user: Any, document_id: int, organisation: Organisation | None = None) -> Document:
    """The document if the user may see it, else NotFound (never reveal that it exists)."""
    document = (
        documents_visible_to(user, organisation)
        .select_related("patient__organisation", "template", "current_version", "author")
        .filter(pk=document_id)
        .first()
    )
    if document is None:
        raise NotFound()
    return document


def patient_documents(
    *, user: Any, patient: Patient, organisation: Organisation | None = None, audit: bool = False
) -> list[Document]:
    """The patient's documents the user may see, newest first (erroneous ones included, struck through). Audited
    as a read of the list when asked (the card records its own view of the patient)."""
    documents = list(
        documents_visible_to(user, organisation)
        .filter(patient=patient)
        .select_related("current_version", "author", "patient")
        .order_by("-document_date", "-pk")
    )
    if audit:
        record(actor=user, action="document.listed", obj=patient, patient=patient, after={"count": len(documents)})
    return documents


def is_staff_reader(user: Any, document: Document) -> bool:
    return permissions.is_staff_of(user, document.organisation_id)


# --- one document: versions, diff, history -----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    label: str
    before: Any
    after: Any


@dataclass
class VersionRow:
    version: DocumentVersion
    changes: list[Change]


@dataclass
class HistoryRow:
    at: Any
    actor: str
    action: str
    label: str
    detail: str


@dataclass
class DocumentDetail:
    document: Document
    versions: list[VersionRow]  # newest first
    history: list[HistoryRow]  # oldest first
    shares: list[DocumentShare]
    staff: bool
    can_revise: bool = False
    can_mark_erroneous: bool = False
    can_delete: bool = False
    can_share: bool = False
    can_sign: bool = False
    share_candidates: list[Member] = field(default_factory=list)


def _display(value: Any) -> Any:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    return value if value not in (None, "") else "—"


def version_diff(previous: DocumentVersion | None, current: DocumentVersion, labels: dict[str, str]) -> list[Change]:
    """What changed from `previous` to `current`: each field (label: before → after), and the file when it was
    replaced by an upload."""
    if previous is None:
        return []
    changes: list[Change] = []
    names = list(labels) + [n for n in sorted({*previous.fields, *current.fields}) if n not in labels]
    for name in names:
        before, after = previous.fields.get(name), current.fields.get(name)
        if before != after:
            changes.append(Change(labels.get(name) or str(name), _display(before), _display(after)))
    if current.signed_at is not None:
        changes.append(Change(str(_("signature")), "—", current.signed_by))
    if not changes and previous.sha256 != current.sha256:
        changes.append(
            Change(
                str(_("file")),
                f"{previous.original_name or previous.extension} · {filesizeformat(previous.size)}",
                f"{current.original_name or current.extension} · {filesizeformat(current.size)}",
            )
        )
    return changes


def document_history(document: Document) -> list[HistoryRow]:
    """Every change of the document from the audit log, oldest first (reads are in the audit log, not here)."""
    events = AuditEvent.objects.filter(object_type="records.document", object_id=str(document.pk)).exclude(
        action="document.viewed"
    )
    rows = []
    for event in events.order_by("id"):
        after = event.after or {}
        if event.action in ("document.version_added", "document.signed"):
            detail = " · ".join(
                str(part) for part in (_("version %(n)s") % {"n": after.get("version")}, after.get("note")) if part
            )
        elif event.action == "document.shared":
            detail = str(after.get("name", ""))
        elif event.action == "document.created":
            detail = str(_("version %(n)s") % {"n": after.get("version", 1)})
        else:
            detail = str(after.get("reason", ""))
        rows.append(
            HistoryRow(
                at=event.created_at,
                actor=event.actor_label,
                action=event.action,
                label=str(HISTORY_LABELS.get(event.action, event.action)),
                detail=detail,
            )
        )
    return rows


def _viewed(user: Any, document: Document, part: str, version: int | None = None) -> None:
    after: dict[str, Any] = {"part": part}
    if version is not None:
        after["version"] = version
    record(actor=user, action="document.viewed", obj=document, patient=document.patient_id, after=after)


def document_detail(*, user: Any, document_id: int, organisation: Organisation | None = None) -> DocumentDetail:
    """The document page: versions with what changed, history, shares and what the user may do; audited."""
    document = document_get(user=user, document_id=document_id, organisation=organisation)
    versions = list(document.versions.select_related("author").order_by("number"))
    labels = {s.name: s.label for s in field_specs(document.template.fields)} if document.template else {}
    rows = [
        VersionRow(version, version_diff(versions[i - 1] if i else None, version, labels))
        for i, version in enumerate(versions)
    ]
    staff = is_staff_reader(user, document)
    detail = DocumentDetail(
        document=document,
        versions=list(reversed(rows)),
        history=document_history(document) if staff else [],
        shares=list(document.shares.select_related("member__user", "shared_by")) if staff else [],
        staff=staff,
    )
    if staff:
        detail.can_revise = access.can_revise(user, document)
        detail.can_sign = detail.can_revise and access.can_sign(document)
        detail.can_mark_erroneous = document.is_active and access.can_mark_erroneous(user, document)
        detail.can_delete = access.can_delete(user, document)
        detail.can_share = document.restricted and access.can_share(user, document)
        if detail.can_share:
            shared = {s.member_id for s in detail.shares}
            detail.share_candidates = [m for m in doctors_of(document.organisation_id) if m.pk not in shared]
    _viewed(user, document, "detail")
    return detail


def document_version(
    *, user: Any, document_id: int, number: int | None = None, organisation: Organisation | None = None
) -> DocumentVersion:
    """One version's file (the latest by default) for download or the viewer; audited."""
    document = document_get(user=user, document_id=document_id, organisation=organisation)
    versions = DocumentVersion.objects.filter(document=document).select_related("document")
    version = versions.filter(number=number).first() if number is not None else versions.order_by("-number").first()
    if version is None:
        raise NotFound()
    _viewed(user, document, "file", version.number)
    return version


def doctors_of(organisation_id: int) -> list[Member]:
    return list(
        Member.objects.filter(organisation_id=organisation_id, is_active=True, roles__role=Role.DOCTOR)
        .select_related("user")
        .order_by("user__full_name")
        .distinct()
    )


def inbox(*, user: Any, organisation: Organisation) -> QuerySet[Document]:
    """Restricted documents (patients' uploads) that went to the user or were shared with them, newest first."""
    if not permissions.is_staff_of(user, organisation):
        raise NotAllowed()
    return (
        documents_visible_to(user, organisation)
        .filter(shares__member__user=user)
        .select_related("patient", "current_version")
        .order_by("-created_at")
        .distinct()
    )


def templates_for(*, user: Any, organisation: Organisation, patient: Patient | None = None) -> list[DocumentTemplate]:
    """Active templates whose kind the user may write; those in the patient's language (or for any) first."""
    kinds = set(access.writable_kinds(user, organisation.pk))
    found = [t for t in DocumentTemplate.objects.filter(organisation=organisation, is_active=True) if t.kind in kinds]
    language = (patient.language or organisation.default_language) if patient is not None else ""
    return sorted(found, key=lambda t: (t.language not in ("", language), t.name.casefold()))


# --- mandatory documents ---------------------------------------------------------------------------------------


# The states of a rule for a patient: a signed document valid on the day; a document that would be valid but is not
# signed yet (SIGNED_KINDS: made from a template and not signed on the screen); one no longer valid; none at all.
VALID, SIGNATURE_MISSING, EXPIRED, MISSING = "valid", "signature_missing", "expired", "missing"


@dataclass
class RuleCheck:
    rule: MandatoryRule
    state: str  # VALID, SIGNATURE_MISSING, EXPIRED or MISSING
    # VALID/EXPIRED: the satisfying document that lasts longest; SIGNATURE_MISSING: the unsigned one to sign.
    document: Document | None = None
    valid_until: date | None = None
    required: bool = False  # the rule applies: it is general, or matches one of the patient's upcoming visits
    visits: list[registry.Visit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == VALID

    @property
    def signature_missing(self) -> bool:
        return self.state == SIGNATURE_MISSING

    @property
    def document_missing(self) -> bool:
        """Missing or expired: a document has to be made (or uploaded) again, not just signed."""
        return self.state in (EXPIRED, MISSING)


def active_rules(organisation_id: int) -> list[MandatoryRule]:
    return list(
        MandatoryRule.objects.filter(organisation_id=organisation_id, is_active=True).select_related(
            "template", "location"
        )
    )


def _best(documents: list[Document], rule: MandatoryRule) -> tuple[Document | None, date | None]:
    """The document that lasts longest for the rule: (document, last valid day or None for ever)."""
    best: Document | None = None
    best_until: date | None = None
    for document in documents:
        until = rule.valid_until(document)
        if best is None or until is None or (best_until is not None and until > best_until):
            best, best_until = document, until
            if until is None:
                break
    return best, best_until


def _check(rule: MandatoryRule, documents: list[Document], on: date) -> RuleCheck:
    """The rule's state on day `on` from the patient's active documents (their current versions selected). An
    unsigned document that would be valid on the day wins over an expired signed one: signing it is what is left."""
    matching = [d for d in documents if rule.matched_by(d)]
    signed, until = _best([d for d in matching if rule.signed(d)], rule)
    if signed is not None and (until is None or until >= on):
        return RuleCheck(rule=rule, state=VALID, document=signed, valid_until=until)
    unsigned, unsigned_until = _best([d for d in matching if not rule.signed(d)], rule)
    if unsigned is not None and (unsigned_until is None or unsigned_until >= on):
        return RuleCheck(rule=rule, state=SIGNATURE_MISSING, document=unsigned, valid_until=unsigned_until)
    if signed is not None:
        return RuleCheck(rule=rule, state=EXPIRED, document=signed, valid_until=until)
    if unsigned is not None:
        return RuleCheck(rule=rule, state=EXPIRED, document=unsigned, valid_until=unsigned_until)
    return RuleCheck(rule=rule, state=MISSING)


def consent_checks(*, patient: Patient, on: date | None = None) -> list[RuleCheck]:
    """Each active rule of the patient's clinic: valid (with the document and until when), signature missing (with
    the document to sign), expired or missing, and whether it applies (general rules always; scoped ones when an
    upcoming visit matches). Three queries plus the registered visit feed's one. Cached on the patient object for
    the card's tab and flags."""
    cached = getattr(patient, "_records_consents", None)
    if cached is not None and on is None:
        return list(cached)
    today = on or timezone.localdate()
    rules = active_rules(patient.organisation_id)
    if not rules:
        patient._records_consents = []  # type: ignore[attr-defined]
        return []
    documents = list(
        Document.objects.filter(
            patient=patient, status=Document.Status.ACTIVE, kind__in=sorted({r.kind for r in rules})
        )
        .select_related("current_version")
        .order_by("-document_date", "-pk")
    )
    visits = registry.upcoming_visits(patient.organisation_id, timezone.now(), None, [patient.pk])
    checks = []
    for rule in rules:
        check = _check(rule, documents, today)
        check.visits = [v for v in visits if rule.applies_to(service_id=v.service_id, location_id=v.location_id)]
        check.required = rule.is_general or bool(check.visits)
        checks.append(check)
    checks.sort(key=lambda c: (not c.required, c.ok, c.rule.name.casefold()))
    if on is None:
        patient._records_consents = checks  # type: ignore[attr-defined]
    return checks


def missing_count(patient: Patient) -> int | None:
    """How many applicable mandatory documents the patient lacks (missing or expired; those only waiting for a
    signature are `unsigned_count`); None when the clinic has no rules."""
    checks = consent_checks(patient=patient)
    if not checks:
        return None
    return sum(1 for check in checks if check.required and check.document_missing)


def unsigned_count(patient: Patient) -> int | None:
    """How many applicable mandatory documents the patient has but has not signed; None when the clinic has no
    rules."""
    checks = consent_checks(patient=patient)
    if not checks:
        return None
    return sum(1 for check in checks if check.required and check.signature_missing)


@dataclass
class MissingRow:
    patient: Patient
    visit: registry.Visit  # the first visit in the period for which something is missing
    visit_day: date
    visit_at: datetime  # its start in the location's time zone, without a zone (shown as is)
    missing: list[RuleCheck]


def _local(visit: registry.Visit, zones: dict[int, Any]) -> datetime:
    zone = zones.get(visit.location_id) if visit.location_id is not None else None
    return timezone.localtime(visit.start, zone).replace(tzinfo=None)


def missing_documents(*, user: Any, organisation: Organisation, days: int = MISSING_DAYS_DEFAULT) -> list[MissingRow]:
    """Patients with visits in the next `days` days who lack a mandatory document (missing, not signed, or no
    longer valid on the day of the visit), soonest visit first. A fixed number of queries, whatever the number of
    visits."""
    permissions.require_staff(user, organisation)
    days = max(1, min(days, MISSING_DAYS_MAX))
    rules = active_rules(organisation.pk)
    if not rules:
        return []
    now = timezone.now()
    visits = sorted(registry.upcoming_visits(organisation.pk, now, now + timedelta(days=days)), key=lambda v: v.start)
    if not visits:
        return []
    patient_ids = sorted({v.patient_id for v in visits})
    documents: dict[int, list[Document]] = defaultdict(list)
    for document in (
        Document.objects.filter(
            patient_id__in=patient_ids, status=Document.Status.ACTIVE, kind__in=sorted({r.kind for r in rules})
        )
        .select_related("current_version")
        .order_by("-document_date", "-pk")
    ):
        documents[document.patient_id].append(document)
    zones = {
        loc.pk: loc.zone
        for loc in Location.objects.filter(pk__in={v.location_id for v in visits if v.location_id is not None})
    }
    found: dict[int, tuple[registry.Visit, list[RuleCheck]]] = {}
    for visit in visits:
        day = _local(visit, zones).date()
        for rule in rules:
            if not rule.applies_to(service_id=visit.service_id, location_id=visit.location_id):
                continue
            check = _check(rule, documents[visit.patient_id], day)
            if check.ok:
                continue
            _first_visit, checks = found.setdefault(visit.patient_id, (visit, []))
            if all(c.rule.pk != rule.pk for c in checks):
                check.visits, check.required = [visit], True
                checks.append(check)
    patients = Patient.objects.filter(organisation=organisation).in_bulk(list(found))
    rows = []
    for patient_id, (visit, checks) in found.items():
        if patient_id in patients:
            at = _local(visit, zones)
            rows.append(MissingRow(patients[patient_id], visit, at.date(), at, checks))
    return rows


def portal_documents(*, user: Any) -> list[Document]:
    """The patient area's list: documents of the user's own records and their wards' (not deleted), newest first."""
    own = own_patient_ids(user)
    return list(
        Document.objects.filter(patient_id__in=sorted(own))
        .exclude(status=Document.Status.DELETED)
        .select_related("current_version", "patient")
        .order_by("-document_date", "-pk")
    )


# --- medical data ------------------------------------------------------------------------------------------------


@dataclass
class MedicalRecord:
    patient: Patient
    current_medications: list[Medication]
    past_medications: list[Medication]
    erroneous_medications: list[Medication]  # entered in error: neither current nor past, listed struck through
    diagnoses: list[Diagnosis]  # active ones first (newest first), then those entered in error
    procedures: list[Procedure]
    notes: list[ClinicalNote]
    photos: list[Document]  # the patient's photo documents the reader may see, newest first
    pairs: list[PhotoPair]  # before/after pairs whose two photos the reader may see
    can_write: bool = False

    @property
    def image_photos(self) -> list[Document]:
        """The active photos that are images: what a before/after pair may be made of."""
        return [p for p in self.photos if p.is_active and p.current_version and p.current_version.is_image]


def medical_record(*, user: Any, patient: Patient, audit: bool = True) -> MedicalRecord:
    """The patient's medications, diagnoses, procedures, doctors' notes, photos and before/after pairs.

    Staff of the patient's clinic in a clinical role (records.access), and the patient (or the proxy of a ward);
    other staff of that clinic get NotAllowed, everyone else NotFound. Entries entered in error stay in the record
    (their status says so): a medication entered in error is neither current nor past, a diagnosis entered in error
    comes after the active ones. Audited as a read ("medical.viewed"). Seven
    queries, whatever the number of entries; cached on the patient object, so the card's Medical and Photos tabs
    share one read."""
    cached = getattr(patient, "_records_medical", None)
    if cached is not None and cached[0] == getattr(user, "pk", None):
        return cached[1]
    staff = permissions.is_staff_of(user, patient.organisation_id)
    if staff:
        if not access.can_read_medical(user, patient.organisation_id):
            raise NotAllowed()
    elif patient.pk not in own_patient_ids(user):
        raise NotFound()
    today = timezone.localdate()
    medications = list(Medication.objects.filter(patient=patient).select_related("author"))
    photos = list(
        documents_visible_to(user)
        .filter(patient=patient, kind=DocumentKind.PHOTO)
        .select_related("current_version")
        .order_by("-document_date", "-pk")
    )
    visible = {photo.pk: photo for photo in photos}
    pairs = []
    for pair in PhotoPair.objects.filter(patient=patient).select_related("author"):
        if pair.before_id in visible and pair.after_id in visible:
            pair.before, pair.after = visible[pair.before_id], visible[pair.after_id]
            pairs.append(pair)
    diagnoses = Diagnosis.objects.filter(patient=patient).select_related("doctor__user", "author")
    result = MedicalRecord(
        patient=patient,
        current_medications=[m for m in medications if m.is_current(today)],
        past_medications=sorted(
            (m for m in medications if not m.is_erroneous and not m.is_current(today)),
            key=lambda m: m.stopped_on or m.ends_on or date.min,
            reverse=True,
        ),
        erroneous_medications=[m for m in medications if m.is_erroneous],
        diagnoses=sorted(diagnoses, key=lambda d: d.is_erroneous),
        procedures=list(Procedure.objects.filter(patient=patient).select_related("doctor__user", "author")),
        notes=list(ClinicalNote.objects.filter(patient=patient).select_related("author")),
        photos=photos,
        pairs=pairs,
        can_write=staff and access.can_write_medical(user, patient.organisation_id),
    )
    if audit:
        record(actor=user, action="medical.viewed", obj=patient, patient=patient, after={"part": "medical"})
    patient._records_medical = (getattr(user, "pk", None), result)  # type: ignore[attr-defined]
    return result


def medical_entry_get(*, user: Any, model: type[Any], entry_id: int, patient: Patient) -> Any:
    """One medical entry of the patient for a change, if the user may read the patient's medical data."""
    if not access.can_read_medical(user, patient.organisation_id):
        raise NotAllowed()
    entry = model.objects.filter(pk=entry_id, patient=patient).select_related("patient__organisation").first()
    if entry is None:
        raise NotFound()
    return entry


def photo_choices(*, user: Any, patient: Patient) -> dict[int, Document]:
    """The patient's active image photos the user may see, by id (what a before/after pair may use)."""
    photos = (
        documents_visible_to(user)
        .filter(patient=patient, kind=DocumentKind.PHOTO, status=Document.Status.ACTIVE)
        .select_related("current_version")
    )
    return {p.pk: p for p in photos if p.current_version is not None and p.current_version.is_image}
