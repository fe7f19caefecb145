"""Back-office admin for users and API tokens (token hashes are never shown)."""

from django.contrib import admin

from kabinet.accounts.models import ApiToken, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "language", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "language"]
    search_fields = ["email", "phone", "full_name"]
    exclude = ["password", "user_permissions"]
    readonly_fields = ["last_login", "date_joined", "activated_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
