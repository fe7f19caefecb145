"""Back-office admin for organisations, locations, rooms and members."""

from django.contrib import admin

from kabinet.core.models import Location, Member, MemberRole, Organisation, Room, Specialty


class LocationInline(admin.TabularInline):
    model = Location
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "default_language", "currency"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LocationInline]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "time_zone", "is_active"]
    list_filter = ["organisation", "is_active"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "kind", "is_active"]
    list_filter = ["location__organisation", "location"]


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]


class MemberRoleInline(admin.TabularInline):
    model = MemberRole
    extra = 1


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "title", "is_active"]
    list_filter = ["organisation", "roles__role"]
    search_fields = ["user__email", "user__full_name"]
    filter_horizontal = ["specialties", "locations"]
    inlines = [MemberRoleInline]
