"""ASGI entry point: HTTP through Django, websockets at /ws/ through Channels with session authentication."""

import os

from django.core.asgi import get_asgi_application

from kabinet.serving import freeze_start_up_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kabinet.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from kabinet.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
freeze_start_up_objects()
