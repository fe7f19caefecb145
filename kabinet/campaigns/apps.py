"""App config for kabinet.campaigns: marketing campaigns to a saved patient segment, released by the clock."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kabinet.campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.conf import settings

        from kabinet.campaigns import events, tasks
        from kabinet.core import clock

        events.register_events()
        clock.register("campaigns.release", tasks.release_campaigns, every_seconds=settings.NOTIFICATIONS_TICK_SECONDS)
