"""The front desk's settings for a clinic's administrators (/frontdesk/settings/): the policy (call windows,
lateness thresholds, waiting-list offers, passive list), refusal reasons and recall rules."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kabinet.core import permissions
from kabinet.core.exceptions import DomainError, NotAllowed
from kabinet.core.models import Organisation
from kabinet.frontdesk.forms import PolicyForm, RecallRuleForm, RefusalReasonForm
from kabinet.frontdesk.models import RecallRule, RefusalReason
from kabinet.frontdesk.services import catalogue
from kabinet.frontdesk.services.common import policy_for
from kabinet.frontdesk.views.common import staff_page


def _errors_into(form: Any, exc: DomainError) -> None:
    for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@require_http_methods(["GET", "POST"])
@staff_page
def settings_page(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    if not permissions.has_role(request.user, organisation, *catalogue.SETTINGS_ROLES):
        raise NotAllowed()
    policy = policy_for(organisation.pk)
    policy_form = PolicyForm(instance=policy)
    reason_form = RefusalReasonForm()
    rule_form = RecallRuleForm(organisation=organisation)
    status = 200
    if request.method == "POST":
        which = request.POST.get("form", "")
        try:
            if which == "policy":
                policy_form = PolicyForm(request.POST, instance=policy_for(organisation.pk))
                if policy_form.is_valid():
                    changes = {name: policy_form.cleaned_data[name] for name in catalogue.POLICY_FIELDS}
                    catalogue.policy_update(actor=request.user, organisation=organisation, changes=changes)
                    messages.success(request, _("The front-desk rules are saved."))
                    return redirect("frontdesk:settings")
            elif which == "reason":
                reason_form = RefusalReasonForm(request.POST)
                if reason_form.is_valid():
                    catalogue.refusal_reason_add(
                        actor=request.user, organisation=organisation, **reason_form.cleaned_data
                    )
                    messages.success(request, _("The refusal reason is added."))
                    return redirect("frontdesk:settings")
            elif which == "rule":
                rule_form = RecallRuleForm(request.POST, organisation=organisation)
                if rule_form.is_valid():
                    catalogue.recall_rule_add(actor=request.user, organisation=organisation, **rule_form.cleaned_data)
                    messages.success(request, _("The recall rule is added."))
                    return redirect("frontdesk:settings")
            elif which in ("reason_active", "rule_active"):
                active = request.POST.get("active") == "1"
                object_id = int(request.POST.get("id", "0") or 0)
                if which == "reason_active":
                    reason = RefusalReason.objects.filter(organisation=organisation, pk=object_id).first()
                    if reason is not None:
                        catalogue.refusal_reason_set_active(actor=request.user, reason=reason, active=active)
                else:
                    rule = RecallRule.objects.filter(organisation=organisation, pk=object_id).first()
                    if rule is not None:
                        catalogue.recall_rule_set_active(actor=request.user, rule=rule, active=active)
                return redirect("frontdesk:settings")
        except DomainError as exc:
            target = {"policy": policy_form, "reason": reason_form, "rule": rule_form}.get(which)
            if target is None:
                messages.error(request, str(exc.message))
                return redirect("frontdesk:settings")
            _errors_into(target, exc)
        status = 422
    context = {
        "organisation": organisation,
        "policy_form": policy_form,
        "reason_form": reason_form,
        "rule_form": rule_form,
        "reasons": RefusalReason.objects.filter(organisation=organisation).order_by("-is_active", "name"),
        "rules": RecallRule.objects.filter(organisation=organisation).select_related("service").order_by("service"),
    }
    return render(request, "frontdesk/settings.html", context, status=status)
