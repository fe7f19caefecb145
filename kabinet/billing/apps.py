"""App config for kabinet.billing: price lists, discounts, invoices, payments, deposits, documents, the ledger."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "kabinet.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from kabinet.billing import cards

        cards.register()  # the patient card's Billing tab and "debt" flag, and the patients list's debt filter
