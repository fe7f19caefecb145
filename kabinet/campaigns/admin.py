"""Back-office admin for campaigns (read-only recipients: they change through the services and the clock)."""

from django.contrib import admin
from django.http import HttpRequest

from kabinet.campaigns.models import Campaign, CampaignRecipient


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["pk", "organisation", "name", "state", "audience", "rate_per_minute", "created_at"]
    list_filter = ["state"]
    search_fields = ["name"]
    readonly_fields = ["state", "audience", "started_at", "paused_at", "completed_at", "cancelled_at"]


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ["pk", "campaign", "patient", "channel", "state", "reason", "released_at"]
    list_filter = ["state", "channel"]
    raw_id_fields = ["campaign", "patient", "message"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
