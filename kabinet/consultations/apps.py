"""App config for kabinet.consultations: contracts, conversations, messages, requests, SLA control and ratings."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultationsConfig(AppConfig):
    name = "kabinet.consultations"
    label = "consultations"
    verbose_name = _("Consultations")

    def ready(self) -> None:
        from django.conf import settings

        from kabinet.billing import hooks as billing_hooks
        from kabinet.consultations import cards, notices, selectors, services, tasks, visits
        from kabinet.consultations.services import payments
        from kabinet.core import clock, realtime
        from kabinet.scheduling import hooks as scheduling_hooks

        # Participants follow one conversation live: {"topic": "conversation", "id": <conversation>}.
        realtime.register_topic("conversation", selectors.conversation_topic_group)
        notices.register_events()
        cards.register()  # the Consultations tab of the patient card
        # Paying, refunding or crediting a contract's / request's invoice moves its payment state.
        billing_hooks.register_invoice_hook("consultations", payments.on_invoice_changed)
        # Video visits: "Start video call" in the calendar's visit panel; a cancelled, no-show or completed visit
        # ends its open call.
        scheduling_hooks.register_calendar_extension("consultations", visits.calendar_extension)
        scheduling_hooks.register_appointment_hook("consultations", services.video_calls_end_for_appointment)
        # Overdue replies escalate and contracts past their period end; idempotent, so every minute is fine.
        clock.register("consultations.sla", tasks.sla_check, every_seconds=settings.CONSULTATIONS_SLA_CHECK_SECONDS)
