"""Staff consultation pages, mounted at /consultations/ (files and the messages partial serve both areas)."""

from django.urls import path

from kabinet.consultations import video_views, views

app_name = "consultations"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/messages/", views.messages_partial, name="messages"),
    path("c/<int:conversation_id>/readings/", views.readings_chart, name="readings"),
    path("files/<int:message_id>/", views.message_file, name="file"),
    path("c/<int:conversation_id>/video/", video_views.video_start, name="video_start"),
    path("video/<int:call_id>/", video_views.video_page, name="video"),
    path("video/<int:call_id>/end/", video_views.video_end, name="video_end"),
    path("queue/", views.queue, name="queue"),
    path("requests/<int:request_id>/", views.request_detail, name="request"),
    path("panel/", views.panel, name="panel"),
    path("settings/", views.policy, name="policy"),
    path("contracts/", views.contracts, name="contracts"),
    path("contracts/new/", views.contract_new, name="contract_new"),
    path("contracts/<int:contract_id>/", views.contract_detail, name="contract"),
    path("contracts/<int:contract_id>/<str:action>/", views.contract_action, name="contract_action"),
    path("reports/", views.report, name="report"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:contract_id>/", views.review_save, name="review_save"),
]
