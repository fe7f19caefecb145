"""Notification pages, mounted at /notifications/."""

from django.urls import path

from kabinet.notifications import views

app_name = "notifications"

urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:message_id>/", views.message_detail, name="message"),
    path("send/", views.send_message, name="send"),
    path("send/preview/", views.send_preview, name="send_preview"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<str:event>/<str:channel>/<str:language>/", views.template_edit, name="template_edit"),
    path(
        "templates/<str:event>/<str:channel>/<str:language>/preview/",
        views.template_preview,
        name="template_preview",
    ),
    path("settings/", views.policy_edit, name="policy"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox_read_all"),
    path("inbox/<int:notification_id>/read/", views.inbox_read, name="inbox_read"),
    path("push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
    path("dlr/kannel/<str:token>/", views.dlr_kannel, name="dlr_kannel"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("o/<str:token>.gif", views.opened, name="opened"),
]
