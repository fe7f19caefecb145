"""App config for kabinet.patients: patients, contacts, families, notes, search and the timeline."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "kabinet.patients"
    label = "patients"
    verbose_name = _("Patients")

    def ready(self) -> None:
        from kabinet.core import realtime
        from kabinet.patients.selectors import patient_topic_group

        # Staff of the patient's organisation follow a card's timeline live: {"topic": "patient", "id": <patient>}.
        realtime.register_topic("patient", patient_topic_group)
