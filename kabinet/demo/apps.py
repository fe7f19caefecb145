"""App config for kabinet.demo: the demo clinic (`manage.py seed_demo`). Sits above every other app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "kabinet.demo"
    label = "demo"
    verbose_name = _("Demo clinic")
