"""App config for kabinet.core: organisations, locations, staff, roles, tenancy, health, clock."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kabinet.core"
    label = "core"
    verbose_name = _("Clinics")

    def ready(self) -> None:
        from kabinet.core import clock, tasks

        clock.register("core.heartbeat", tasks.worker_heartbeat, every_seconds=clock.heartbeat_interval())
