"""Campaign pages, mounted at /campaigns/."""

from django.urls import path

from kabinet.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/stats/", views.campaign_stats, name="stats"),
    path("<int:campaign_id>/recipients/", views.campaign_recipients, name="recipients"),
    path("<int:campaign_id>/recipients.csv", views.campaign_export, name="export"),
    path("<int:campaign_id>/<str:action>/", views.campaign_action, name="action"),
]
