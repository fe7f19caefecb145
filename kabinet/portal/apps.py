"""App config for kabinet.portal: the patient-facing area at /my/ (PWA)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "kabinet.portal"
    label = "portal"
    verbose_name = _("Patient portal")

    def ready(self) -> None:
        from kabinet.portal import notices

        notices.register_events()
