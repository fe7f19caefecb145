from django.urls import path

from kabinet.core import views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organisation/", views.organisation_choose, name="organisation_choose"),
    path("offline/", views.offline, name="offline"),
]
