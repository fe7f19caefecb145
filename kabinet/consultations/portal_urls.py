"""Patient consultation pages, mounted at /my/consultations/."""

from django.urls import path

from kabinet.consultations import portal_views, video_views, views

app_name = "consultations_portal"

urlpatterns = [
    path("", portal_views.index, name="index"),
    path("<int:conversation_id>/", portal_views.conversation, name="conversation"),
    path("<int:conversation_id>/messages/", views.messages_partial, name="messages"),
    path("<int:conversation_id>/readings/", views.readings_chart, name="readings"),
    path("contracts/<int:contract_id>/rate/", portal_views.rate, name="rate"),
    path("video/<int:call_id>/", video_views.video_page, name="video"),
]
