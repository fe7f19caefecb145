"""Back-office admin for patients."""

from django.contrib import admin

from kabinet.patients.models import Patient, Relationship


class RelationshipInline(admin.TabularInline):
    model = Relationship
    fk_name = "patient"
    extra = 0
    raw_id_fields = ["relative"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "birth_date", "organisation"]
    list_filter = ["organisation"]
    search_fields = ["family_name", "given_name"]
    raw_id_fields = ["user"]
    inlines = [RelationshipInline]
