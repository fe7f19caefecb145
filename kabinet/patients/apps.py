"""App config for kabinet.patients: patients, families and relatives (extended by the patients issue)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "kabinet.patients"
    label = "patients"
    verbose_name = _("Patients")
