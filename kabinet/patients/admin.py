"""Back-office admin for patients, their contacts, tags, notes and timeline (read-mostly: changes go through the
card, where they are audited)."""

from django.contrib import admin
from django.http import HttpRequest

from kabinet.patients.models import (
    Patient,
    PatientEmail,
    PatientNote,
    PatientPhone,
    Relationship,
    Tag,
    TimelineEntry,
)


class RelationshipInline(admin.TabularInline):
    model = Relationship
    fk_name = "patient"
    extra = 0
    raw_id_fields = ["relative"]


class PhoneInline(admin.TabularInline):
    model = PatientPhone
    extra = 0


class EmailInline(admin.TabularInline):
    model = PatientEmail
    extra = 0


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "card_number", "birth_date", "status", "organisation"]
    list_filter = ["organisation", "status", "is_vip"]
    search_fields = ["family_name", "given_name", "card_number", "phone", "email"]
    raw_id_fields = ["user"]
    filter_horizontal = ["tags"]
    readonly_fields = ["card_number", "created_at", "updated_at"]
    inlines = [PhoneInline, EmailInline, RelationshipInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "colour", "organisation"]
    list_filter = ["organisation"]
    search_fields = ["name"]


@admin.register(PatientNote)
class PatientNoteAdmin(admin.ModelAdmin):
    list_display = ["patient", "scope", "author", "created_at"]
    raw_id_fields = ["patient", "author"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "patient", "kind", "title"]
    list_filter = ["kind"]
    raw_id_fields = ["patient", "actor"]

    def has_change_permission(self, request: HttpRequest, obj: TimelineEntry | None = None) -> bool:
        return False
