"""App config for kabinet.frontdesk: reminder-call worklists, the waiting list, arrivals, refusals, recall diary."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FrontdeskConfig(AppConfig):
    name = "kabinet.frontdesk"
    label = "frontdesk"
    verbose_name = _("Front desk")

    def ready(self) -> None:
        from kabinet.core import clock, realtime
        from kabinet.frontdesk import events, hooks, tasks
        from kabinet.frontdesk.selectors import board_topic_group
        from kabinet.scheduling import hooks as scheduling_hooks

        realtime.register_topic("frontdesk", board_topic_group)  # the board follows its clinic's worklists live
        events.register_all()  # the messages frontdesk sends (unreachable SMS, waiting-list offers, visit cards)
        # Freed slots go to the waiting list, completed visits plan recall calls, moves drop a pending arrival.
        scheduling_hooks.register_appointment_hook("frontdesk", hooks.on_appointment_changed)
        # The calendar's visit panel marks arrival through frontdesk (lateness, prompts) and links the next visit.
        scheduling_hooks.register_calendar_extension("frontdesk", hooks.calendar_extension)
        clock.register("frontdesk.worklists", tasks.worklists_refresh, every_seconds=tasks.REFRESH_SECONDS)
        clock.register("frontdesk.passive", tasks.passive_list_refresh, every_seconds=tasks.PASSIVE_SECONDS)
