"""Price list and discount pages: every staff member reads them, administrators edit."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kabinet.billing import access, selectors, services
from kabinet.billing.forms import DiscountCreateForm, PriceListEditForm, PriceListForm
from kabinet.billing.views._common import form_errors, report
from kabinet.core.decorators import staff_page
from kabinet.core.exceptions import DomainError, Invalid
from kabinet.core.models import Organisation
from kabinet.scheduling.models import Service


@require_http_methods(["GET", "POST"])
@staff_page
def price_lists(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    """All price lists of the clinic with a form for a new one, and the discounts with theirs."""
    lists = list(selectors.price_lists_for(user=request.user, organisation=organisation))
    locations = list(selectors.locations_of(organisation))
    form = PriceListForm(request.POST or None, locations=locations, price_lists=lists)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.price_list_create(
                    actor=request.user,
                    location=next(loc for loc in locations if loc.pk == data["location"]),
                    name=data["name"],
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                    copy_from=next((pl for pl in lists if pl.pk == data["copy_from"]), None),
                )
            except DomainError as exc:
                report(request, exc, form)
            else:
                messages.success(request, _("The price list is created. Enter its prices."))
                return redirect("billing:price_list", price_list_id=created.pk)
        else:
            form_errors(request, form)
    context = {
        "price_lists": lists,
        "form": form,
        "discounts": selectors.discounts_for(user=request.user, organisation=organisation),
        "discount_form": DiscountCreateForm(),
        "can_edit": access.can_manage_prices(request.user, organisation),
        "currency": organisation.currency,
    }
    return render(request, "billing/price_lists.html", context)


@require_http_methods(["GET", "POST"])
@staff_page
def price_list(request: HttpRequest, organisation: Organisation, price_list_id: int) -> HttpResponse:
    """One price list: its period and a price field per service (empty: the service is not in this list)."""
    current = selectors.price_list_get(user=request.user, organisation=organisation, price_list_id=price_list_id)
    service_rows = list(Service.objects.filter(organisation=organisation, is_active=True).order_by("name"))
    prices = selectors.price_list_prices(current)
    initial = {"name": current.name, "valid_from": current.valid_from, "valid_to": current.valid_to}
    initial.update({f"price_{pk}": price for pk, price in prices.items()})
    form = PriceListEditForm(request.POST or None, services=service_rows, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.price_list_update(
                    actor=request.user,
                    price_list=current,
                    name=data["name"],
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                )
                services.price_list_set_prices(actor=request.user, price_list=current, prices=form.prices())
            except Invalid as exc:
                for field, errors in exc.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            except DomainError as exc:
                report(request, exc, form)
            else:
                messages.success(request, _("The price list is saved."))
                return redirect("billing:price_list", price_list_id=current.pk)
    context = {
        "price_list": current,
        "form": form,
        "rows": [(service, form[name]) for service, name in form.service_fields],
        "can_edit": access.can_manage_prices(request.user, organisation),
        "currency": organisation.currency,
    }
    return render(request, "billing/price_list.html", context, status=status)


@require_POST
@staff_page
def discount_create(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    form = DiscountCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            patient = None
            if data["patient_card"].strip():
                patient = selectors.patient_by_card(organisation, data["patient_card"])
                if patient is None:
                    raise Invalid(errors={"patient_card": [_("No patient has this card number.")]})
            services.discount_create(
                actor=request.user,
                organisation=organisation,
                name=data["name"],
                kind=data["kind"],
                value=data["value"],
                patient=patient,
                code=data["code"],
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
            )
        except DomainError as exc:
            report(request, exc, form)
        else:
            messages.success(request, _("The discount is created."))
    else:
        form_errors(request, form)
    return redirect("billing:price_lists")


@require_POST
@staff_page
def discount_deactivate(request: HttpRequest, organisation: Organisation, discount_id: int) -> HttpResponse:
    found = selectors.discount_get(user=request.user, organisation=organisation, discount_id=discount_id)
    try:
        services.discount_deactivate(actor=request.user, discount=found)
    except DomainError as exc:
        report(request, exc)
    else:
        messages.success(request, _("The discount is switched off."))
    return redirect("billing:price_lists")
