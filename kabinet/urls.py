"""Root URL configuration: staff app at /, patient area at /my/, API at /api/v1/, admin at /admin/."""

from django.contrib import admin
from django.urls import include, path, re_path

from kabinet.api import api, api_not_found
from kabinet.core import views as core_views
from kabinet.portal.urls import booking_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
    path("accounts/", include("kabinet.accounts.urls")),
    path("audit/", include("kabinet.audit.urls")),
    path("calendar/", include("kabinet.scheduling.urls")),
    path("patients/", include("kabinet.patients.urls")),
    path("billing/", include("kabinet.billing.urls")),
    path("notifications/", include("kabinet.notifications.urls")),
    path("campaigns/", include("kabinet.campaigns.urls")),
    path("records/", include("kabinet.records.urls")),
    path("frontdesk/", include("kabinet.frontdesk.urls")),
    path("my/offers/", include("kabinet.frontdesk.portal_urls")),  # waiting-list offers, opened from a signed link
    path("consultations/", include("kabinet.consultations.urls")),
    path("my/consultations/", include("kabinet.consultations.portal_urls")),
    path("my/", include("kabinet.portal.urls")),
    path("book/", include(booking_urlpatterns)),
    path("healthz", core_views.healthz, name="healthz"),
    path("manifest.webmanifest", core_views.manifest, name="manifest"),
    path("sw.js", core_views.service_worker, name="service_worker"),
    path("", include("kabinet.core.urls")),
]
