"""Websocket URL routes; every app's consumers are mounted under /ws/."""

from django.urls import path

from kabinet.consultations.consumers import VideoSignallingConsumer
from kabinet.core.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/", LiveConsumer.as_asgi()),
    path("ws/video/<int:call_id>/", VideoSignallingConsumer.as_asgi()),  # consultations: WebRTC signalling
]
