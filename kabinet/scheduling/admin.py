"""Back-office admin for services, shift templates, shifts, time off, hour norms, calendar feeds, reasons and
booking policies.

Appointments are read-only here: they change only through the calendar and the API (services), which check
overlaps, write the audit log and update open calendars.
"""

from typing import Any

from django.contrib import admin

from kabinet.scheduling.models import (
    Appointment,
    BookingPolicy,
    CalendarFeed,
    HourNorm,
    Reason,
    Service,
    Shift,
    ShiftBreak,
    ShiftTemplate,
    TimeOff,
)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "duration_minutes", "price", "online_bookable", "is_video", "is_active"]
    list_filter = ["organisation", "online_bookable", "is_video", "is_active"]
    search_fields = ["name", "name_ru", "name_bg"]
    filter_horizontal = ["practitioners"]


@admin.register(ShiftTemplate)
class ShiftTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "start_time", "end_time"]
    filter_horizontal = ["allowed_services"]


class ShiftBreakInline(admin.TabularInline):
    model = ShiftBreak
    extra = 0


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["practitioner", "location", "start", "end", "template"]
    list_filter = ["location", "practitioner"]
    date_hierarchy = "start"
    inlines = [ShiftBreakInline]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["practitioner", "kind", "start", "end"]


@admin.register(Reason)
class ReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "organisation", "is_active"]
    list_filter = ["kind", "organisation"]


@admin.register(BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
    list_display = ["organisation", "min_notice_minutes", "max_days_ahead", "change_cutoff_hours"]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["start", "practitioner", "patient", "service", "status", "location"]
    list_filter = ["status", "location"]
    date_hierarchy = "start"
    raw_id_fields = ["patient"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(HourNorm)
class HourNormAdmin(admin.ModelAdmin):
    list_display = ["practitioner", "month", "norm_minutes", "organisation"]
    list_filter = ["organisation", "month"]
    date_hierarchy = "month"


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Feeds are made and revoked on the schedule page (the address is shown once); here they can only be seen."""

    list_display = ["practitioner", "created_at", "revoked_at", "last_fetched_at"]
    list_filter = ["organisation"]
    readonly_fields = ["organisation", "practitioner", "created_by", "created_at", "revoked_at", "last_fetched_at"]
    exclude = ["token_hash"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
