"""Back-office admin for the front desk's catalogues and rules (policy, refusal reasons, recall rules), which clinics
edit, and read-only views of the worklists, waiting list, refusals and arrivals, which change only through the
front-desk services (audited, on the patients' timelines)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kabinet.frontdesk.models import (
    Arrival,
    CallAttempt,
    FrontDeskPolicy,
    RecallRule,
    Refusal,
    RefusalReason,
    WaitlistEntry,
    WaitlistOffer,
    WorklistItem,
)


@admin.register(FrontDeskPolicy)
class FrontDeskPolicyAdmin(admin.ModelAdmin):
    list_display = ["organisation", "call_windows", "late_notify_from_minutes", "late_reschedule_from_minutes"]


@admin.register(RefusalReason)
class RefusalReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "name_ru", "name_bg", "organisation", "is_active"]
    list_filter = ["organisation", "is_active"]
    search_fields = ["name", "name_ru", "name_bg"]


@admin.register(RecallRule)
class RecallRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "kind", "after_days", "organisation", "is_active"]
    list_filter = ["organisation", "kind", "is_active"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallAttemptInline(admin.TabularInline):
    model = CallAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("at", "operator", "outcome", "follow_up", "callback_at", "note")
    fields = ("at", "operator", "outcome", "follow_up", "callback_at", "note")


@admin.register(WorklistItem)
class WorklistItemAdmin(ReadOnlyAdmin):
    list_display = ["day", "kind", "patient", "state", "outcome", "attempts", "next_call_at"]
    list_filter = ["organisation", "kind", "state", "outcome"]
    date_hierarchy = "day"
    raw_id_fields = ["patient", "appointment", "waitlist_entry", "offer"]
    inlines = [CallAttemptInline]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = ["patient", "service", "state", "callback_date", "created_at"]
    list_filter = ["organisation", "state"]
    raw_id_fields = ["patient", "appointment", "source_appointment"]


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(ReadOnlyAdmin):
    list_display = ["entry", "start", "practitioner", "state", "expires_at"]
    list_filter = ["organisation", "state"]


@admin.register(Refusal)
class RefusalAdmin(ReadOnlyAdmin):
    list_display = ["patient", "reason", "created_at", "created_by"]
    list_filter = ["organisation", "reason"]
    raw_id_fields = ["patient", "appointment"]


@admin.register(Arrival)
class ArrivalAdmin(ReadOnlyAdmin):
    list_display = ["appointment", "arrived_at", "late_minutes", "lateness", "doctor_notified", "seen_late"]
    list_filter = ["organisation", "lateness"]
