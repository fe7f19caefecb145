"""App config for kabinet.scheduling: services, shifts, time off, slots, appointments."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "kabinet.scheduling"
    label = "scheduling"
    verbose_name = _("Calendar")

    def ready(self) -> None:
        from kabinet.core import realtime
        from kabinet.patients.filters import register_visit_source
        from kabinet.records.registry import register_visit_feed
        from kabinet.scheduling import cards, visit_feeds
        from kabinet.scheduling.selectors import calendar_topic_group

        realtime.register_topic("calendar", calendar_topic_group)
        cards.register()  # the Appointments tab of the patient card
        register_visit_source("scheduling.Appointment", exclude_statuses=("cancelled", "no_show"))  # patient filters
        # Mandatory documents for upcoming visits, and patients' uploads to their treating doctors.
        register_visit_feed(
            upcoming=visit_feeds.upcoming_visits,
            treating_doctors=visit_feeds.treating_doctors,
            services=visit_feeds.service_names,
        )
