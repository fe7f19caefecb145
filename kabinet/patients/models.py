"""Patients of an organisation and the family links between them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Organisation


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", _("female")
        MALE = "male", _("male")
        OTHER = "other", _("other")
        UNKNOWN = "unknown", _("unknown")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="patients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient_records"
    )
    family_name = models.CharField(_("family name"), max_length=150)
    given_name = models.CharField(_("given name"), max_length=150)
    middle_name = models.CharField(_("patronymic / middle name"), max_length=150, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("preferred language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["organisation", "family_name", "given_name"]),
            models.Index(fields=["organisation", "phone"]),
        ]

    def __str__(self) -> str:
        return " ".join(part for part in (self.family_name, self.given_name, self.middle_name) if part)


class Relationship(models.Model):
    """`relative` is `kind` of `patient` (e.g. the relative is the patient's parent); proxies act for the patient."""

    class Kind(models.TextChoices):
        PARENT = "parent", _("parent")
        CHILD = "child", _("child")
        SPOUSE = "spouse", _("spouse")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="relationships")
    relative = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="relative_of")
    kind = models.CharField(_("relation"), max_length=10, choices=Kind.choices)
    is_proxy = models.BooleanField(_("may act for the patient"), default=False)

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.UniqueConstraint(fields=["patient", "relative"], name="relationship_unique_pair"),
            models.CheckConstraint(condition=~models.Q(patient=models.F("relative")), name="relationship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.relative_id} is {self.kind} of {self.patient_id}"
