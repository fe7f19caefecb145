"""App config for kabinet.records: documents and their versions, uploads, templates and mandatory-document rules."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "kabinet.records"
    label = "records"
    verbose_name = _("Documents")

    def ready(self) -> None:
        from kabinet.records import cards

        # The Documents and Consents tabs and the "missing documents" and "signatures missing" flags of the card.
        cards.register()
