"""WSGI entry point for HTTP workers in the scaled-out deployment (gunicorn kabinet.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

from kabinet.serving import freeze_start_up_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kabinet.settings")
application = get_wsgi_application()
freeze_start_up_objects()
