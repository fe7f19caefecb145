"""The patient's page for a waiting-list offer, mounted at /my/offers/: reached through the signed link in the
offer's message, no login needed (the link is the permission, for that one offer)."""

from django.urls import path

from kabinet.frontdesk.views import offers

app_name = "frontdesk_offer"

urlpatterns = [
    path("<str:token>/", offers.offer, name="offer"),
]
