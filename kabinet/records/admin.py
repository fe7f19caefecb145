"""Back-office admin: document templates and mandatory-document rules are set up here (audited); documents and
versions are read-only (they change through the document pages, where permissions and history apply)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kabinet.audit.services import record, snapshot
from kabinet.records import registry
from kabinet.records.models import Document, DocumentShare, DocumentTemplate, DocumentVersion, MandatoryRule

TEMPLATE_FIELDS = ["kind", "name", "language", "body", "fields", "is_active"]
RULE_FIELDS = ["name", "kind", "template", "location", "service_id", "validity_days", "is_active"]


class AuditedAdmin(admin.ModelAdmin):
    audited_fields: list[str] = []
    action_prefix = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = snapshot(type(obj).objects.get(pk=obj.pk), self.audited_fields) if change else None
        super().save_model(request, obj, form, change)
        record(
            actor=request.user,
            action=f"{self.action_prefix}.{'updated' if change else 'created'}",
            obj=obj,
            before=before,
            after=snapshot(obj, self.audited_fields),
        )


@admin.register(DocumentTemplate)
class DocumentTemplateAdmin(AuditedAdmin):
    list_display = ["name", "kind", "language", "organisation", "is_active"]
    list_filter = ["organisation", "kind", "language", "is_active"]
    search_fields = ["name"]
    audited_fields = TEMPLATE_FIELDS
    action_prefix = "document_template"


class RuleForm(forms.ModelForm):
    service_id = forms.TypedChoiceField(label=_("service"), required=False, coerce=int, empty_value=None)

    class Meta:
        model = MandatoryRule
        fields = ["organisation", *RULE_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisation_id = self.instance.organisation_id or self.initial.get("organisation")
        names = registry.service_names(int(organisation_id)) if organisation_id else {}
        self.fields["service_id"].choices = [("", _("any service")), *names.items()]  # type: ignore[attr-defined]
        self.fields["service_id"].help_text = _("Save once after choosing the organisation to see its services.")


@admin.register(MandatoryRule)
class MandatoryRuleAdmin(AuditedAdmin):
    form = RuleForm
    list_display = ["name", "kind", "template", "location", "service_id", "validity_days", "is_active"]
    list_filter = ["organisation", "kind", "is_active"]
    audited_fields = RULE_FIELDS
    action_prefix = "mandatory_rule"


class VersionInline(admin.TabularInline):
    model = DocumentVersion
    extra = 0
    can_delete = False
    fields = ("number", "content_type", "size", "sha256", "author", "created_at")
    readonly_fields = ("number", "content_type", "size", "sha256", "author", "created_at")


class ShareInline(admin.TabularInline):
    model = DocumentShare
    extra = 0
    can_delete = False
    fields = ("member", "via", "shared_by", "created_at")
    readonly_fields = ("member", "via", "shared_by", "created_at")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "patient", "status", "document_date", "organisation"]
    list_filter = ["organisation", "kind", "status", "origin"]
    search_fields = ["title", "patient__family_name"]
    inlines = [VersionInline, ShareInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
