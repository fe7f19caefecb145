"""App config for kabinet.demo: the demo clinic (`manage.py seed_demo`). Sits above every other app."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "kabinet.demo"
    label = "demo"
    verbose_name = "Demo clinic"
