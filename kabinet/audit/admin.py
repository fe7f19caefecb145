"""Read-only admin view of the audit log."""

from typing import Any

from django.contrib import admin

from kabinet.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "object_type", "object_id", "patient_id"]
    list_filter = ["action"]
    search_fields = ["object_id", "actor_label", "request_id"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
