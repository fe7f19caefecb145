"""Forms of the billing pages: validation of formats only; the services decide what is allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kabinet.billing.models import DiscountKind, Invoice, PaymentMethod

EMPTY = [("", "—")]
DATE = forms.DateInput(attrs={"type": "date"})


def money_field(label: Any, *, required: bool = True, min_value: Decimal | None = None) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=min_value,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        max_digits=12,
        decimal_places=2,
    )


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Number or name"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=EMPTY + list(Invoice.Status.choices))
    location = forms.TypedChoiceField(label=_("Location"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label=_("Services from"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("Services to"), required=False, widget=DATE)
    unpaid = forms.BooleanField(label=_("Unpaid only"), required=False)

    def __init__(self, *args: Any, locations: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = EMPTY + [(loc.pk, loc.name) for loc in locations]  # type: ignore[attr-defined]


class LineForm(forms.Form):
    service = forms.TypedChoiceField(label=_("Service"), required=False, coerce=int, empty_value=None)
    description = forms.CharField(label=_("Or an item"), required=False, max_length=300)
    quantity = forms.DecimalField(
        label=_("Quantity"), initial=1, max_digits=9, decimal_places=2, min_value=Decimal("0.01")
    )
    unit_price = money_field(_("Price (empty: from the price list)"), required=False)
    discount_kind = forms.ChoiceField(
        label=_("Line discount"), required=False, choices=EMPTY + list(DiscountKind.choices)
    )
    discount_value = money_field(_("Discount value"), required=False)

    def __init__(self, *args: Any, services: Any = (), currency: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = EMPTY + [  # type: ignore[attr-defined]
            (row.service.pk, f"{row.service.display_name()} — {row.price} {currency}") for row in services
        ]


class InvoiceDiscountForm(forms.Form):
    code = forms.CharField(label=_("Loyalty card or code"), required=False, max_length=50)
    kind = forms.ChoiceField(label=_("Or a discount"), required=False, choices=EMPTY + list(DiscountKind.choices))
    value = money_field(_("Value"), required=False)


class PayerForm(forms.Form):
    payer = forms.TypedChoiceField(label=_("Paid by"), required=False, coerce=int, empty_value=None)
    payer_name = forms.CharField(label=_("Company (buyer)"), required=False, max_length=300)
    payer_details = forms.CharField(label=_("Company details"), required=False, max_length=500)

    def __init__(self, *args: Any, patient: Any = None, relatives: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("the patient") + (f" ({patient})" if patient else ""))]
        choices += [(r.pk, str(r)) for r in relatives]
        self.fields["payer"].choices = choices  # type: ignore[attr-defined]


class CreateForm(PayerForm):
    discount_code = forms.CharField(label=_("Loyalty card or code"), required=False, max_length=50)


class PaymentForm(forms.Form):
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices, initial=PaymentMethod.CASH)
    amount = money_field(_("Amount"))
    to_deposit = forms.BooleanField(label=_("Put what is paid above the due amount on the deposit"), required=False)


class RefundForm(forms.Form):
    method = forms.ChoiceField(label=_("Refund by"), choices=PaymentMethod.choices, initial=PaymentMethod.CASH)
    amount = money_field(_("Amount"))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=500)


class DepositForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Operation"), choices=[("in", _("Take an advance")), ("out", _("Pay out from the deposit"))]
    )
    location = forms.TypedChoiceField(label=_("Desk"), coerce=int)
    method = forms.ChoiceField(
        label=_("Method"), choices=[c for c in PaymentMethod.choices if c[0] != PaymentMethod.DEPOSIT]
    )
    amount = money_field(_("Amount"))
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, locations: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [(loc.pk, loc.name) for loc in locations]  # type: ignore[attr-defined]


class PriceListForm(forms.Form):
    location = forms.TypedChoiceField(label=_("Location"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=200)
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE)
    valid_to = forms.DateField(label=_("Valid until"), required=False, widget=DATE)
    copy_from = forms.TypedChoiceField(label=_("Copy prices from"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, locations: Any = (), price_lists: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [(loc.pk, loc.name) for loc in locations]  # type: ignore[attr-defined]
        self.fields["copy_from"].choices = EMPTY + [  # type: ignore[attr-defined]
            (pl.pk, f"{pl.location.name}: {pl.name}") for pl in price_lists
        ]


class PriceListEditForm(forms.Form):
    """The list's name and period, and one price field per service (empty: not in this list)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE)
    valid_to = forms.DateField(label=_("Valid until"), required=False, widget=DATE)

    def __init__(self, *args: Any, services: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_fields: list[tuple[Any, str]] = []
        for service in services:
            name = f"price_{service.pk}"
            self.fields[name] = money_field(service.display_name(), required=False, min_value=Decimal(0))
            self.service_fields.append((service, name))

    def prices(self) -> dict[int, Decimal | None]:
        return {service.pk: self.cleaned_data.get(name) for service, name in self.service_fields}


class DiscountCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=DiscountKind.choices)
    value = money_field(_("Value"))
    code = forms.CharField(label=_("Card number or code"), required=False, max_length=50)
    patient_card = forms.CharField(
        label=_("Or the patient's card number"), required=False, max_length=20, help_text=_("A personal discount.")
    )
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=DATE)
    valid_to = forms.DateField(label=_("Valid until"), required=False, widget=DATE)


class CashReportForm(forms.Form):
    location = forms.TypedChoiceField(label=_("Location"), coerce=int)
    date = forms.DateField(label=_("Day"), widget=DATE)

    def __init__(self, *args: Any, locations: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [(loc.pk, loc.name) for loc in locations]  # type: ignore[attr-defined]
