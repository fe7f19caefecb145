"""Back-office admin for the outbox (read-only: states change through the dispatcher and services), templates,
reminder policies, push subscriptions, in-app notifications and opt-outs."""

from django.contrib import admin
from django.http import HttpRequest

from kabinet.notifications.models import (
    InAppNotification,
    Message,
    MessageEvent,
    MessageTemplate,
    OptOut,
    PushSubscription,
    ReminderPolicy,
)


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    can_delete = False
    readonly_fields = ["state", "at", "detail", "worker"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "organisation", "channel", "event", "address", "state", "due_at", "attempts"]
    list_filter = ["state", "channel", "event"]
    search_fields = ["address", "idempotency_key", "provider_id"]
    inlines = [MessageEventInline]
    raw_id_fields = ["patient", "user", "created_by"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["organisation", "event", "channel", "language", "updated_at"]
    list_filter = ["event", "channel", "language"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # edited on /notifications/templates/, where variables are checked and changes audited

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


admin.site.register(ReminderPolicy)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "is_active", "created_at", "last_success_at"]
    raw_id_fields = ["user"]


@admin.register(InAppNotification)
class InAppNotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "title", "created_at", "read_at"]
    raw_id_fields = ["user", "message"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["organisation", "patient", "channel", "created_at"]
    raw_id_fields = ["patient"]
