from django.urls import path

from kabinet.core import views as core_views
from kabinet.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("manifest.webmanifest", core_views.manifest, {"area": "portal"}, name="manifest"),
    path("sw.js", core_views.service_worker, {"area": "portal"}, name="service_worker"),
    path("offline/", core_views.offline, name="offline"),
]
