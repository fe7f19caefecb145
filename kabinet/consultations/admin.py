"""Back-office admin for consultations (the clinic's own staff work in /consultations/)."""

from django.contrib import admin

from kabinet.consultations.models import (
    ConsultationContract,
    ConsultationPolicy,
    ConsultationRequest,
    ContractRating,
    Conversation,
    ReadingThreshold,
)


@admin.register(ConsultationContract)
class ConsultationContractAdmin(admin.ModelAdmin):
    list_display = ("id", "organisation", "patient", "doctor", "status", "starts_on", "ends_on", "payment_state")
    list_filter = ("status", "kind", "payment_state")
    raw_id_fields = ("patient", "doctor", "location", "conversation", "renewed_from", "created_by")
    filter_horizontal = ("care_team",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "organisation", "patient", "doctor", "unanswered", "due_at", "escalation")
    raw_id_fields = ("patient", "doctor", "location")


@admin.register(ConsultationRequest)
class ConsultationRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "organisation", "patient", "kind", "status", "created_at", "taken_by")
    list_filter = ("status", "kind")
    raw_id_fields = ("patient", "location", "taken_by", "created_by")


admin.site.register(ConsultationPolicy)
admin.site.register(ReadingThreshold)
admin.site.register(ContractRating)
