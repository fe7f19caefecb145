"""Websocket URL routes; every app's consumers are mounted under /ws/."""

from django.urls import path

from kabinet.core.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/", LiveConsumer.as_asgi()),
]
