"""Documents of a patient with their versions, who they are shared with, templates, and mandatory-document rules."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Location, Member, Organisation
from kabinet.patients.models import Patient


class DocumentKind(models.TextChoices):
    VISIT_NOTE = "visit_note", _("visit note")
    PROCEDURE_PROTOCOL = "procedure_protocol", _("procedure protocol")
    LAB_RESULT = "lab_result", _("lab result")
    STUDY = "study", _("study")
    DISCHARGE_SUMMARY = "discharge_summary", _("discharge summary")
    INFORMED_CONSENT = "informed_consent", _("informed consent")
    CONTRACT = "contract", _("contract")
    SCAN = "scan", _("scanned administrative document")
    PHOTO = "photo", _("photo")
    OTHER = "other", _("other")


# Clinical documents are read and written by the clinical roles only; administrative ones by every desk role.
CLINICAL_KINDS = frozenset(
    {
        DocumentKind.VISIT_NOTE,
        DocumentKind.PROCEDURE_PROTOCOL,
        DocumentKind.LAB_RESULT,
        DocumentKind.STUDY,
        DocumentKind.DISCHARGE_SUMMARY,
        DocumentKind.PHOTO,
    }
)
ADMINISTRATIVE_KINDS = frozenset(DocumentKind.values) - CLINICAL_KINDS
# Documents the patient signs: one made from a template counts for a mandatory rule only once signed on the screen
# (its current version carries the drawn signature); an uploaded one is the scan of the signed paper. The rules have
# no setting of their own for it: other kinds (e.g. a questionnaire kept as "other") count as soon as they exist.
SIGNED_KINDS = frozenset({DocumentKind.INFORMED_CONSENT, DocumentKind.CONTRACT})
# What a patient may upload from the portal.
PATIENT_UPLOAD_KINDS = (
    DocumentKind.PHOTO,
    DocumentKind.LAB_RESULT,
    DocumentKind.STUDY,
    DocumentKind.DISCHARGE_SUMMARY,
    DocumentKind.OTHER,
)


class DocumentTemplate(models.Model):
    """A clinic's form for a document: a Django-template body (patient, clinic and field values as variables) and
    the fields staff fill in; rendered to PDF in the patient's language."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="document_templates")
    kind = models.CharField(_("type"), max_length=30, choices=DocumentKind.choices)
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty when the body suits every language (it may test {{ language }})."),
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "HTML with Django template variables: {{ patient.full_name }}, {{ patient.birth_date }}, "
            "{{ clinic.name }}, {{ author.name }}, {{ today }}, {{ fields.<name> }}, {{ language }}."
        ),
    )
    # [{"name": "diagnosis", "label": "Diagnosis", "type": "text|textarea|date|checkbox", "required": true}]
    fields = models.JSONField(_("fields"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("document template")
        verbose_name_plural = _("document templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name", "language"], name="document_template_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})" if self.language else self.name

    def clean(self) -> None:
        from kabinet.records.rendering import TemplateProblem, check_template

        try:
            check_template(self.body, self.fields)
        except TemplateProblem as exc:
            raise ValidationError({exc.field: exc.message}) from exc


class Document(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        ERRONEOUS = "erroneous", _("entered in error")
        DELETED = "deleted", _("deleted")

    class Origin(models.TextChoices):
        TEMPLATE = "template", _("made from a template")
        UPLOAD = "upload", _("uploaded by staff")
        PATIENT = "patient", _("uploaded by the patient")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("type"), max_length=30, choices=DocumentKind.choices)
    title = models.CharField(_("title"), max_length=200)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    # The template it was made from, or (for a scan of a signed printout) the template it is a copy of.
    template = models.ForeignKey(
        DocumentTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    document_date = models.DateField(_("date of the document"), default=timezone.localdate)
    # A visit in scheduling (an app above this one): a plain id, never a foreign key.
    appointment_ref = models.PositiveBigIntegerField(_("visit"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Patients' uploads reach only the doctors they are shared with (and administrators), not every desk.
    restricted = models.BooleanField(_("restricted to the doctors it is shared with"), default=False)
    current_version = models.ForeignKey(
        "DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-document_date", "-pk"]
        indexes = [
            models.Index(fields=["patient", "status", "kind"], name="document_patient_kind"),
            models.Index(fields=["organisation", "-created_at"], name="document_org_recent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class DocumentVersion(models.Model):
    """One immutable version: the file (a PDF rendered from the template, or the checked upload) and, for
    template-made documents, the field values it was rendered from."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    fields = models.JSONField(_("field values"), default=dict, blank=True)
    # Stored under a random name chosen by services._store (never the uploaded name), served only by the file views.
    file = models.FileField(_("file"), upload_to="records/", max_length=300)
    original_name = models.CharField(_("uploaded as"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size, bytes"))
    sha256 = models.CharField(max_length=64)
    note = models.CharField(_("what changed"), max_length=500, blank=True)
    # A signature drawn on the screen (services.document_sign): the cleaned PNG, also printed in this version's PDF.
    signature = models.FileField(_("signature"), upload_to="records/", max_length=300, blank=True)
    signed_by = models.CharField(_("signed by"), max_length=200, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        ordering = ["document", "-number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="document_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"

    @property
    def extension(self) -> str:
        name = self.file.name or ""
        return name.rsplit(".", 1)[-1] if "." in name else ""

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"


class DocumentShare(models.Model):
    """A doctor who may see a restricted document: a treating doctor it went to, or one it was shared with."""

    class Via(models.TextChoices):
        RECIPIENT = "recipient", _("treating doctor")
        SHARE = "share", _("shared")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="shares")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="document_shares")
    via = models.CharField(max_length=10, choices=Via.choices)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document share")
        verbose_name_plural = _("document shares")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["document", "member"], name="document_share_unique_member")]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.member_id}"


class MandatoryRule(models.Model):
    """A document a patient must have on file: for every visit (no scope), at a location, and/or for a service.

    Satisfied by an active document of `kind` (made from `template`, or a scan of it, when a template is named)
    whose date is less than `validity_days` before the day in question (no limit when empty) and, for the kinds the
    patient signs (SIGNED_KINDS), that is signed: an upload, or a template-made one signed on the screen."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="mandatory_rules")
    name = models.CharField(_("name"), max_length=200, help_text=_("e.g. GDPR consent, informed consent for fillers"))
    kind = models.CharField(_("document type"), max_length=30, choices=DocumentKind.choices)
    template = models.ForeignKey(
        DocumentTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rules",
        verbose_name=_("template"),
        help_text=_("When set, only documents made from this template (or scans of it) count."),
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("location")
    )
    # A scheduling service (an app above this one): a plain id, never a foreign key.
    service_id = models.PositiveBigIntegerField(_("service"), null=True, blank=True)
    validity_days = models.PositiveIntegerField(
        _("valid for, days"), null=True, blank=True, help_text=_("Empty: valid forever.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mandatory document")
        verbose_name_plural = _("mandatory documents")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="mandatory_rule_unique_name"),
            models.CheckConstraint(
                condition=Q(validity_days__isnull=True) | Q(validity_days__gt=0), name="mandatory_rule_validity"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.template_id and self.template and self.template.kind != self.kind:
            raise ValidationError({"template": _("Choose a template of the same document type.")})
        if self.location_id and self.location and self.location.organisation_id != self.organisation_id:
            raise ValidationError({"location": _("Choose a location of this clinic.")})

    @property
    def is_general(self) -> bool:
        return self.location_id is None and self.service_id is None

    def applies_to(self, *, service_id: int | None, location_id: int | None) -> bool:
        return (self.location_id is None or self.location_id == location_id) and (
            self.service_id is None or self.service_id == service_id
        )

    @property
    def needs_signature(self) -> bool:
        return self.kind in SIGNED_KINDS

    def matched_by(self, document: Document) -> bool:
        """The document is of the kind (and template) the rule asks for and active, signed or not."""
        return (
            document.status == Document.Status.ACTIVE
            and document.kind == self.kind
            and (self.template_id is None or document.template_id == self.template_id)
        )

    def signed(self, document: Document) -> bool:
        """Signed as the rule needs: any document when it needs no signature; an uploaded one (the scan of the
        signed paper); a template-made one whose current version was signed on the screen (editing it makes an
        unsigned version). Reads `document.current_version`: select it with the document."""
        if not self.needs_signature or document.origin != Document.Origin.TEMPLATE:
            return True
        version = document.current_version
        return version is not None and version.signed_at is not None

    def valid_until(self, document: Document) -> date | None:
        """The last day the document counts for this rule (None: no end)."""
        if self.validity_days is None:
            return None
        return document.document_date + timedelta(days=self.validity_days - 1)


# --- medical data: structured entries by clinical staff (read and written by the clinical roles only) ------------


class MedicalEntry(models.Model):
    """What every structured medical entry has: the patient, who wrote it and when."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ClinicalEntry(MedicalEntry):
    """A medical entry that can be marked as entered in error (as a document can): it stays listed, struck through
    with the reason, and no longer counts (an erroneous medication is not current) nor can be edited. Before/after
    pairs are not clinical entries: a wrong pairing is simply removed."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        ERRONEOUS = "erroneous", _("entered in error")

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def is_erroneous(self) -> bool:
        return self.status == self.Status.ERRONEOUS


class Medication(ClinicalEntry):
    """A medication the patient takes (or took): current while not stopped, its end date not past and not entered in
    error."""

    name = models.CharField(_("medication"), max_length=200)
    dose = models.CharField(_("dose"), max_length=200, blank=True, help_text=_("e.g. 5 mg once a day"))
    started_on = models.DateField(_("since"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    stopped_on = models.DateField(_("stopped on"), null=True, blank=True)
    stop_reason = models.CharField(_("why it was stopped"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("medication")
        verbose_name_plural = _("medications")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["patient", "stopped_on"], name="medication_patient")]

    def __str__(self) -> str:
        return self.name

    def is_current(self, today: date | None = None) -> bool:
        if self.is_erroneous:
            return False
        today = today or timezone.localdate()
        if self.stopped_on is not None and self.stopped_on <= today:
            return False
        return self.ends_on is None or self.ends_on >= today


class Diagnosis(ClinicalEntry):
    """A diagnosis as free text (coded diagnoses come later), with the day it was made and the doctor."""

    text = models.CharField(_("diagnosis"), max_length=500)
    diagnosed_on = models.DateField(_("date"), default=timezone.localdate)
    doctor = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("doctor")
    )

    class Meta:
        verbose_name = _("diagnosis")
        verbose_name_plural = _("diagnoses")
        ordering = ["-diagnosed_on", "-pk"]
        indexes = [models.Index(fields=["patient", "-diagnosed_on"], name="diagnosis_patient")]

    def __str__(self) -> str:
        return self.text[:50]


class Procedure(ClinicalEntry):
    """A procedure performed on the patient: what (a service's name or free text), when, by whom, and a note."""

    name = models.CharField(_("procedure"), max_length=200)
    performed_on = models.DateField(_("date"), default=timezone.localdate)
    doctor = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("doctor")
    )
    note = models.TextField(_("note"), blank=True)
    # A visit in scheduling (an app above this one): a plain id, never a foreign key.
    appointment_ref = models.PositiveBigIntegerField(_("visit"), null=True, blank=True)

    class Meta:
        verbose_name = _("procedure")
        verbose_name_plural = _("procedures")
        ordering = ["-performed_on", "-pk"]
        indexes = [models.Index(fields=["patient", "-performed_on"], name="procedure_patient")]

    def __str__(self) -> str:
        return self.name


class ClinicalNote(ClinicalEntry):
    """A doctor's structured note: the complaint, the findings and the plan."""

    written_on = models.DateField(_("date"), default=timezone.localdate)
    complaint = models.TextField(_("complaint"), blank=True)
    findings = models.TextField(_("findings"), blank=True)
    plan = models.TextField(_("plan"), blank=True)

    class Meta:
        verbose_name = _("doctor's note")
        verbose_name_plural = _("doctor's notes")
        ordering = ["-written_on", "-pk"]
        indexes = [models.Index(fields=["patient", "-written_on"], name="clinical_note_patient")]

    def __str__(self) -> str:
        return f"{self.written_on}: {self.complaint[:40]}"


class PhotoPair(MedicalEntry):
    """Two photo documents of the patient shown side by side: before and after, under a label ("Fillers, lips")."""

    label = models.CharField(_("label"), max_length=200)
    before = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+", verbose_name=_("before"))
    after = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+", verbose_name=_("after"))

    class Meta:
        verbose_name = _("before/after pair")
        verbose_name_plural = _("before/after pairs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="photo_pair_patient")]
        constraints = [
            models.CheckConstraint(condition=~Q(before=models.F("after")), name="photo_pair_two_photos"),
        ]

    def __str__(self) -> str:
        return self.label
